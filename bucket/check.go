package bucket

import (
	"context"
	"errors"
	"fmt"

	"github.com/skynomad/skynomad/task"
)

// Problem is why a task's files cannot be stored or mounted, placed on
// the field that asks for them.
type Problem struct {
	Task int `json:"task"`
	// Mount is the index of the file mount, or -1 for the workdir.
	Mount    int    `json:"mount"`
	Msg      string `json:"msg"`
	Accepted string `json:"accepted,omitempty"`
}

func (p Problem) Error() string { return p.Msg }

// Check finds what would keep the job's files from being stored or
// mounted, before anything is submitted: the job-files bucket (when a
// task has local files), and each bucket mount's bucket, which must exist
// or, for a named bucket, be creatable (it is created now, as SkyPilot
// does at launch).
func (m *Manager) Check(ctx context.Context, dag task.DAG) []Problem {
	var out []Problem
	var filesErr error
	filesChecked := false
	for ti, t := range dag.Tasks {
		if at, ok := localFilesField(t); ok {
			if !filesChecked {
				filesErr, filesChecked = m.checkFilesBucket(ctx), true
			}
			if filesErr != nil {
				out = append(out, Problem{Task: ti, Mount: at, Msg: filesErr.Error(), Accepted: filesBucketAccepted})
			}
		}
		for i, mt := range t.Mounts {
			if !mt.Bucket() {
				continue
			}
			if err := m.checkBucketMount(ctx, mt); err != nil {
				out = append(out, Problem{Task: ti, Mount: i, Msg: err.Error(), Accepted: bucketAccepted})
			}
		}
	}
	return out
}

// PreviewProblems are the problems of a task's bucket mounts that need
// no store to find (an unsupported store, a bad bucket URL), as Check
// reports them: for `skynomad translate`, which reaches no store.
func PreviewProblems(store string, t task.Task) []Problem {
	m := &Manager{cfg: Config{Bucket: store, LocalBuckets: "~/.skynomad/buckets"}}
	var out []Problem
	for i, mt := range t.Mounts {
		if !mt.Bucket() {
			continue
		}
		raw, err := m.bucketURL(mt)
		if err == nil {
			_, err = ParseURL(raw)
		}
		if err != nil {
			out = append(out, Problem{Mount: i, Msg: err.Error(), Accepted: bucketAccepted})
		}
	}
	return out
}

const (
	filesBucketAccepted = "jobs.bucket in ~/.skynomad/config.yaml naming a bucket that exists and that these credentials may write (s3://bucket/prefix, gs://bucket/prefix, file:///dir), or no jobs.bucket for a temporary bucket per job"
	bucketAccepted      = "an existing bucket these credentials may read (s3://name, gs://name), or {name, store: s3|gcs} for a bucket that exists or may be created"
)

// localFilesField is where a task asks for the job-files bucket: its
// workdir (-1) or its first local file mount.
func localFilesField(t task.Task) (int, bool) {
	if t.Workdir != nil && t.Workdir.Path != "" {
		return -1, true
	}
	for i, mt := range t.Mounts {
		if mt.LocalSource() && !mt.Bucket() {
			return i, true
		}
	}
	return 0, false
}

// checkFilesBucket checks that the configured job-files bucket exists.
// A temporary one is made per job; its store is checked when it is.
func (m *Manager) checkFilesBucket(ctx context.Context) error {
	if m.cfg.Bucket == "" {
		return nil
	}
	u, err := ParseURL(m.cfg.Bucket)
	if err != nil {
		return err
	}
	st, err := m.cfg.Open(ctx, u)
	if err != nil {
		return fmt.Errorf("the job-files bucket %s (jobs.bucket): %w", m.cfg.Bucket, err)
	}
	if _, err := st.Ensure(ctx, false); err != nil {
		return fmt.Errorf("the job-files bucket %s (jobs.bucket): %w", m.cfg.Bucket, err)
	}
	return nil
}

// checkBucketMount checks a bucket mount's bucket, creating a named one
// that does not exist.
func (m *Manager) checkBucketMount(ctx context.Context, mt task.Mount) error {
	raw, err := m.bucketURL(mt)
	if err != nil {
		return err
	}
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	st, err := m.cfg.Open(ctx, u)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", raw, err)
	}
	named := mt.LocalSource() || mt.Source == ""
	if _, err := st.Ensure(ctx, named); err != nil {
		if errors.Is(err, ErrNoBucket) && named {
			return fmt.Errorf("bucket %s does not exist and cannot be created: %w", raw, err)
		}
		return fmt.Errorf("bucket %s: %w", raw, err)
	}
	return nil
}
