package node

// EnvFiles is the runner's variable holding Files as JSON.
const EnvFiles = "SKYNOMAD_FILES"

// Files is what the node fetches before setup.
type Files struct {
	// Store is the job-files bucket's root URL: file:///dir,
	// s3://bucket[/prefix] or gs://bucket[/prefix]. Empty when the job
	// uploaded nothing.
	Store string `json:"store,omitempty"`
	// Workdir is the key of the uploaded workdir under Store
	// (job-<runid>/workdir), "" if there is none. It is fetched into the
	// runner's workdir.
	Workdir string `json:"workdir,omitempty"`
	// WorkdirModes is the key of the workdir's file-mode list, if any.
	WorkdirModes string `json:"workdir_modes,omitempty"`
	// Copies are the uploaded local file mounts.
	Copies []Copy `json:"copies,omitempty"`
	// Buckets are the bucket file mounts.
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Copy is one uploaded local file mount.
type Copy struct {
	// Key is where it is under Store (job-<runid>/local-file-mounts/<i>).
	Key string `json:"key"`
	// Dir is true for a tree stored under Key/, false for one file
	// stored at Key.
	Dir bool `json:"dir"`
	// Modes is the key of the tree's file-mode list, if any.
	Modes string `json:"modes,omitempty"`
	// Path is where it goes: absolute, "~/..." (the task's home) or
	// relative to the workdir.
	Path string `json:"path"`
}

// Bucket is one bucket file mount.
type Bucket struct {
	// URL is the bucket (and sub-path): s3://name[/sub], gs://name[/sub],
	// file:///dir.
	URL string `json:"url"`
	// Mode is MOUNT, COPY or MOUNT_CACHED.
	Mode string `json:"mode"`
	// Path is where it goes, as Copy.Path.
	Path string `json:"path"`
}

// Empty reports whether there is nothing to fetch.
func (f Files) Empty() bool {
	return f.Workdir == "" && len(f.Copies) == 0 && len(f.Buckets) == 0
}
