// Package task is skynomad's typed model of a SkyPilot managed job: a single
// task, a pipeline of tasks, or a pool. The translator fills it from YAML; the
// controller, the optimizer and the engines read it. It does no I/O.
package task

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// DAG is what one `jobs launch` submits: one task, or a pipeline of tasks run
// in order. A pool file loads as a DAG with one task whose Pool is set.
type DAG struct {
	// Name is the pipeline's name (or the single task's name).
	Name string `json:"name"`
	// Pipeline is true when the file named a pipeline (multi-document YAML).
	Pipeline bool   `json:"pipeline,omitempty"`
	Tasks    []Task `json:"tasks"`
	// SourceFile is the path the DAG was loaded from, for messages.
	SourceFile string `json:"source_file,omitempty"`
	// Group is set for a job group (`execution: parallel`): the tasks
	// start together and reach each other by hostname.
	Group *Group `json:"group,omitempty"`
}

// IsPipeline reports whether the DAG runs as a pipeline: the file named one,
// or it has several tasks. A job group holds several tasks too but is
// not a pipeline.
func (d DAG) IsPipeline() bool { return d.Group == nil && (d.Pipeline || len(d.Tasks) > 1) }

// IsGroup reports whether the DAG is a job group.
func (d DAG) IsGroup() bool { return d.Group != nil }

// Group is a job group's header: which tasks drive its end, and how long
// the others get once they are told to stop.
type Group struct {
	// PrimaryTasks name the tasks whose end ends the group; empty means
	// every task is primary.
	PrimaryTasks []string `json:"primary_tasks,omitempty"`
	// TerminationDelay is how long auxiliary tasks keep running once
	// every primary task has ended: Default, or PerTask[name].
	TerminationDelay Delays `json:"termination_delay,omitzero"`
	// Isolated is `inter_connection: false`: the tasks get no hostnames
	// of each other and start without waiting for each other's nodes.
	Isolated bool `json:"isolated,omitempty"`
}

// Delays is a default delay with per-task exceptions.
type Delays struct {
	Default time.Duration            `json:"default,omitempty"`
	PerTask map[string]time.Duration `json:"per_task,omitempty"`
}

// For returns the delay of the named task.
func (d Delays) For(name string) time.Duration {
	if v, ok := d.PerTask[name]; ok {
		return v
	}
	return d.Default
}

// Primary reports whether the named task is one of the group's primary
// tasks.
func (g *Group) Primary(name string) bool {
	return len(g.PrimaryTasks) == 0 || slices.Contains(g.PrimaryTasks, name)
}

// Hostname is the name a group member's node answers to:
// <task>-<rank>.<group>.
func Hostname(group, task string, rank int) string {
	return task + "-" + strconv.Itoa(rank) + "." + group
}

// LocalPaths points at the paths on the submitting machine the DAG's
// tasks name: each local workdir and each local file_mounts source.
func (d *DAG) LocalPaths() []*string {
	var out []*string
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if t.Workdir != nil && t.Workdir.Path != "" {
			out = append(out, &t.Workdir.Path)
		}
		for j := range t.Mounts {
			m := &t.Mounts[j]
			if m.LocalSource() {
				out = append(out, &m.Source)
			}
			for k := range m.Sources {
				out = append(out, &m.Sources[k].Path)
			}
		}
	}
	return out
}

// Task is one SkyPilot task, normalized.
type Task struct {
	Name     string    `json:"name"`
	NumNodes int       `json:"num_nodes"`
	Workdir  *Workdir  `json:"workdir,omitempty"`
	Setup    string    `json:"setup,omitempty"`
	Run      string    `json:"run,omitempty"`
	Envs     []EnvVar  `json:"envs,omitempty"`
	Secrets  []EnvVar  `json:"secrets,omitempty"`
	Mounts   []Mount   `json:"file_mounts,omitempty"`
	Pool     *PoolSpec `json:"pool,omitempty"`
	// Volumes are the task's `volumes:` (and `volume_mounts:`).
	Volumes []Volume `json:"volumes,omitempty"`
	// Docker holds `config.docker.run_options`, read; nil when unset.
	Docker *DockerOptions `json:"docker,omitempty"`

	// Resources is the task's `resources:` block without any_of/ordered.
	Resources Resources `json:"resources"`
	// Candidates are the concrete resource requests the optimizer chooses
	// from: Resources merged with each any_of/ordered entry and expanded over
	// accelerator sets. Always at least one. Each has at most one accelerator.
	Candidates []Resources `json:"candidates"`
	// Ordered is true when Candidates are in the user's order of preference
	// (`ordered:` or an accelerator list); otherwise the cheapest wins.
	Ordered bool `json:"ordered,omitempty"`
}

// EnvVar is one name=value pair; order follows the YAML.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Workdir is either a local directory or a git repository.
type Workdir struct {
	Path   string `json:"path,omitempty"`    // local directory (after $VAR substitution)
	GitURL string `json:"git_url,omitempty"` // `workdir: {url, ref}`
	GitRef string `json:"git_ref,omitempty"`
}

// MountMode is how a bucket is attached.
type MountMode string

const (
	MountModeMount       MountMode = "MOUNT"
	MountModeCopy        MountMode = "COPY"
	MountModeMountCached MountMode = "MOUNT_CACHED"
)

// Mount is one `file_mounts` entry.
type Mount struct {
	// Dest is the path on the node.
	Dest string `json:"dest"`
	// Source is a local path or an s3:// / gs:// URL (`DST: SRC` form, or the
	// bucket dict's `source`).
	Source string `json:"source,omitempty"`
	// Sources is the bucket dict's `source` when it lists local paths:
	// each is uploaded to the bucket's root under its Name (Source is
	// then empty).
	Sources []ListedSource `json:"sources,omitempty"`
	// Bucket fields (dict form).
	BucketName string    `json:"bucket_name,omitempty"`
	Store      string    `json:"store,omitempty"`
	Mode       MountMode `json:"mode,omitempty"`
	Persistent *bool     `json:"persistent,omitempty"`
}

// ListedSource is one local path of a bucket's `source:` list.
type ListedSource struct {
	Path string `json:"path"`
	// Name is the path's base name, its key under the bucket's root; it
	// stays when the path is staged elsewhere.
	Name string `json:"name"`
}

// PoolSpec is the `pool:` block of a pool file.
type PoolSpec struct {
	Workers    int `json:"workers,omitempty"`
	MinWorkers int `json:"min_workers,omitempty"`
	MaxWorkers int `json:"max_workers,omitempty"`
}

// Quantity is a cpus/memory request: "8" exactly, "8+" at least.
type Quantity struct {
	Value   float64 `json:"value"`
	AtLeast bool    `json:"at_least,omitempty"`
}

// Accelerator is one GPU (or TPU) model and count per node.
type Accelerator struct {
	Name  string  `json:"name"`
	Count float64 `json:"count"`
}

// Infra is a location: cloud[/region[/zone]]; empty or "*" parts are free.
type Infra struct {
	Cloud  string `json:"cloud,omitempty"`
	Region string `json:"region,omitempty"`
	Zone   string `json:"zone,omitempty"`
}

// PortRange is an inclusive port range; a single port has From == To.
type PortRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Resources is one resource request.
type Resources struct {
	Infra        Infra         `json:"infra,omitempty"`
	CPUs         *Quantity     `json:"cpus,omitempty"`
	Memory       *Quantity     `json:"memory,omitempty"` // GB
	Accelerators []Accelerator `json:"accelerators,omitempty"`
	InstanceType string        `json:"instance_type,omitempty"`
	UseSpot      bool          `json:"use_spot,omitempty"`
	DiskSizeGB   int           `json:"disk_size,omitempty"`
	DiskTier     string        `json:"disk_tier,omitempty"`
	NetworkTier  string        `json:"network_tier,omitempty"`
	Ports        []PortRange   `json:"ports,omitempty"`
	// ImageID is a single image; "docker:<image>" runs in a container.
	ImageID string `json:"image_id,omitempty"`
	// ImageIDs maps region → image when image_id is a dict.
	ImageIDs      map[string]string `json:"image_ids,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	MaxHourlyCost float64           `json:"max_hourly_cost,omitempty"`
	Priority      int               `json:"priority,omitempty"`
	Autostop      string            `json:"autostop,omitempty"`
	JobRecovery   JobRecovery       `json:"job_recovery"`

	// AutostopDown is autostop's `down: true` (tear down, not stop).
	AutostopDown bool `json:"autostop_down,omitempty"`
	// AcceleratorArgs is `resources.accelerator_args`; nil when unset.
	AcceleratorArgs *AcceleratorArgs `json:"accelerator_args,omitempty"`
	// CloudLabels are `config.<cloud>.labels`: cloud → labels for the
	// instances of that cloud (see LabelsOn).
	CloudLabels map[string]map[string]string `json:"cloud_labels,omitempty"`
}

// Recovery strategies.
const (
	StrategyEagerNextRegion = "EAGER_NEXT_REGION"
	StrategyFailover        = "FAILOVER"
)

// JobRecovery is `resources.job_recovery`.
type JobRecovery struct {
	// Strategy is EAGER_NEXT_REGION (default) or FAILOVER.
	Strategy            string `json:"strategy"`
	MaxRestartsOnErrors int    `json:"max_restarts_on_errors,omitempty"`
	RecoverOnExitCodes  []int  `json:"recover_on_exit_codes,omitempty"`
}

// DockerImage returns the image of a "docker:<image>" image_id, or "".
func (r Resources) DockerImage() string {
	const prefix = "docker:"
	if len(r.ImageID) > len(prefix) && r.ImageID[:len(prefix)] == prefix {
		return r.ImageID[len(prefix):]
	}
	return ""
}

// GPUsPerNode is the accelerator count rounded up (SKYPILOT_NUM_GPUS_PER_NODE).
func (r Resources) GPUsPerNode() int {
	if len(r.Accelerators) == 0 {
		return 0
	}
	c := r.Accelerators[0].Count
	n := int(c)
	if float64(n) < c {
		n++
	}
	return n
}

// LocalSource reports whether the mount's source is a path on the
// submitting machine (no URL scheme such as s3:// or gs://): it must be
// resolved there and shipped with the job.
func (m Mount) LocalSource() bool {
	return m.Source != "" && !strings.Contains(m.Source, "://")
}

// Bucket reports whether the mount involves a bucket (the mapping form,
// which always has a Mode, or a bucket URL as source) rather than a plain
// copy of local files.
func (m Mount) Bucket() bool {
	return m.Mode != "" || !m.LocalSource()
}
