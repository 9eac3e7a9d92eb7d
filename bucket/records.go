package bucket

import (
	"context"
	"errors"
	"time"
)

// State is where a job's files are in their life.
type State string

// Record states, in order. A record only moves forward.
const (
	// StateUploading: the prefix is being written. After a controller
	// crash the upload is resumed (the job is not terminal) or cleaned.
	StateUploading State = "uploading"
	// StateReady: every unit is stored; the job may launch.
	StateReady State = "ready"
	// StateCleaning: the owner is deleting the prefix.
	StateCleaning State = "cleaning"
	// StateGone: the prefix (and a temporary bucket) no longer exists.
	StateGone State = "gone"
)

// Record is what the bucket holds for one job.
type Record struct {
	// Name is job-<runid>: the prefix under the store root and the key
	// under skynomad/buckets/.
	Name string `json:"name"`
	// Job is the managed job's id (per controller).
	Job int64 `json:"job"`
	// Store is the store root URL: file:///dir, s3://bucket[/prefix],
	// gs://bucket[/prefix].
	Store string `json:"store"`
	// Temporary is true when the bucket was created for this job and is
	// deleted with its prefix. A bucket that was given is never deleted.
	Temporary bool `json:"temporary,omitempty"`
	// Owner is the controller that wrote the record and cleans it.
	Owner string `json:"owner"`
	State State  `json:"state"`
	// Units are the uploaded sources.
	Units []Unit `json:"units,omitempty"`
	// Drop lists the buckets of the job's bucket mounts that go with the
	// job (persistent: false): emptied and deleted when it is cleaned.
	Drop []string `json:"drop,omitempty"`
	// Files and Bytes total the units.
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	Uploaded time.Time `json:"uploaded,omitzero"`
	Updated  time.Time `json:"updated"`
	// Error says why an upload or a cleanup failed, if one did.
	Error string `json:"error,omitempty"`
}

// Unit is one uploaded source: the workdir or one local file mount.
type Unit struct {
	// Key is where it is under the store root (job-<runid>/workdir,
	// job-<runid>/local-file-mounts/<i>).
	Key string `json:"key"`
	// Store is set for a local source synced into a named bucket mount
	// (`{name, source: ./dir}`): that bucket's URL, Key "" its root (a
	// path of a `source:` list: its base name). It outlives the job
	// unless the bucket is in Drop.
	Store string `json:"store,omitempty"`
	// Source is the local path it was read from.
	Source string `json:"source"`
	// Dest is where it goes on the node (~/sky_workdir, or the mount's
	// destination).
	Dest string `json:"dest"`
	// Dir is true for a directory tree, false for one file.
	Dir   bool  `json:"dir"`
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Hash is the tree's content hash (paths, modes and contents).
	Hash string `json:"hash"`
	// Modes is the key of the file-mode list of a tree (tmp-files/...),
	// "" when no file needs more than 0644 / 0755 defaults.
	Modes string `json:"modes,omitempty"`
}

// Versioned is a record with the version its store gave it.
type Versioned struct {
	Record
	Version uint64
}

// ErrConflict is returned by Put when the record changed since it was read.
var ErrConflict = errors.New("the bucket record changed since it was read")

// Records is where records live: Consul KV, or the controller's store.
type Records interface {
	// Get returns the record named name and its version; found is false
	// if there is none.
	Get(ctx context.Context, name string) (r Record, version uint64, found bool, err error)
	// Put writes r under r.Name if its version is still version (0: only
	// if there is no record yet) and returns the new version, or
	// ErrConflict.
	Put(ctx context.Context, r Record, version uint64) (uint64, error)
	// List returns every record, in name order.
	List(ctx context.Context) ([]Versioned, error)
}
