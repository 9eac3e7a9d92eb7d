package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/stage"
	"github.com/skynomad/skynomad/internal/units"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// The job-files bucket (Config.Files, package bucket), from the loop's
// side:
//
//   - A job with local files (or buckets that go with it) uploads them
//     once it holds a launch slot, before its first attempt: the job stays
//     PENDING, its DETAILS show the upload's progress. A failed upload
//     ends it FAILED_PRECHECKS.
//   - Every attempt's engine.Attempt.Files then points at the upload.
//   - When the job ends, its files are removed (an upload in flight is
//     cancelled first and removes them when it returns). A removal that
//     fails is tried again later.
//   - At start, records of jobs that are not running any more (ended, or
//     unknown) are removed; a job whose upload a crash cut short uploads
//     again when it advances (the same keys: nothing is left behind).
const cleanRetry = time.Minute

// filesState is a job's files as the loop knows them.
type filesState struct {
	ready  *bucket.Record     // the ready record, once uploaded
	cancel context.CancelFunc // the upload in flight
}

// uploads is the progress of the uploads in flight, read off the loop.
type uploads struct{ m sync.Map } // job id → *api.UploadProgress (replaced whole)

func (u *uploads) set(id int64, p bucket.Progress) {
	u.m.Store(id, &api.UploadProgress{Files: p.Files, TotalFiles: p.TotalFiles, Bytes: p.Bytes, TotalBytes: p.TotalBytes})
}

// details fills the progress of j's upload, if one is in flight.
func (u *uploads) details(j *api.Job) {
	v, ok := u.m.Load(j.ID)
	if !ok || j.Status.Terminal() {
		return
	}
	p := v.(*api.UploadProgress)
	j.Upload = p
	j.Details = fmt.Sprintf("uploading files to the job-files bucket: %d%% (%d/%d files, %s/%s)",
		p.Percent(), p.Files, p.TotalFiles, units.Bytes(p.Bytes), units.Bytes(p.TotalBytes))
}

func (c *Controller) filesJob(js *jobState) bucket.Job {
	return bucket.Job{ID: js.job.ID, Submitted: js.job.SubmittedAt, DAG: js.job.DAG}
}

// needsUpload reports whether js must upload before it launches.
func (c *Controller) needsUpload(js *jobState) bool {
	return c.cfg.Files != nil && js.files.ready == nil && !isPoolJob(js) && bucket.NeedsRecord(js.job.DAG)
}

// startUpload uploads the job's files in the background, once.
func (c *Controller) startUpload(js *jobState) {
	if js.files.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	js.files.cancel = cancel
	id, job := js.job.ID, c.filesJob(js)
	c.uploads.set(id, bucket.Progress{})
	c.jlogf(id, "uploading the job's files to the job-files bucket")
	var rec bucket.Record
	c.goCall(func(context.Context) error {
		var err error
		rec, err = c.cfg.Files.Upload(ctx, job, func(p bucket.Progress) { c.uploads.set(id, p) })
		return err
	}, func(err error) { c.onUploaded(job, rec, err) })
}

func (c *Controller) onUploaded(job bucket.Job, rec bucket.Record, err error) {
	c.uploads.m.Delete(job.ID)
	js, ok := c.jobs[job.ID]
	if !ok {
		c.cleanFiles(job.ID, c.cfg.Files.Name(job)) // the job ended meanwhile
		return
	}
	js.files.cancel()
	js.files.cancel = nil
	c.guard(js, func() error {
		if err != nil {
			return c.finish(js, api.StatusFailedPrechecks, "uploading the job's files failed: "+err.Error())
		}
		js.files.ready = &rec
		c.jlogf(job.ID, "files ready in the job-files bucket: %s/%s (%d files, %s)", rec.Store, rec.Name, rec.Files, units.Bytes(rec.Bytes))
		c.unstage(js.job.DAG) // the bucket has them now
		return c.advance(js)
	})
}

// filesEnded removes a finished job's files: now, or when its upload in
// flight returns.
func (c *Controller) filesEnded(js *jobState) {
	if c.cfg.Files == nil || !bucket.NeedsRecord(js.job.DAG) {
		return
	}
	if js.files.cancel != nil {
		js.files.cancel() // onUploaded cleans
		return
	}
	c.unstage(js.job.DAG)
	c.cleanFiles(js.job.ID, c.cfg.Files.Name(c.filesJob(js)))
}

// cleanFiles removes the files of job id (record name) in the background,
// trying again later if that fails.
func (c *Controller) cleanFiles(id int64, name string) {
	c.goCall(func(ctx context.Context) error { return c.cfg.Files.Clean(ctx, name) }, func(err error) {
		if err != nil {
			c.log.Warn("cannot remove a job's files; trying again later", "job", id, "files", name, "err", err)
			c.after(cleanRetry, func() { c.cleanFiles(id, name) })
		}
	})
}

// loadFiles reads this controller's records before the loop starts: the
// ready ones of jobs being resumed are theirs again; those of jobs that
// are not unfinished any more are removed.
func (c *Controller) loadFiles(ctx context.Context, unfinished map[int64]bucket.Job) (map[int64]*bucket.Record, error) {
	if c.cfg.Files == nil {
		return nil, nil
	}
	recs, err := c.cfg.Files.Owned(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: read the job-files bucket's records: %w", err)
	}
	ready := map[int64]*bucket.Record{}
	for _, r := range recs {
		if r.State == bucket.StateGone {
			continue
		}
		job, live := unfinished[r.Job]
		switch {
		case live && c.cfg.Files.Name(job) == r.Name:
			if r.State == bucket.StateReady {
				ready[r.Job] = &r.Record
			}
		default:
			c.cleanFiles(r.Job, r.Name)
		}
	}
	return ready, nil
}

// StageFiles keeps a copy of one local path a CLI on another host sent
// (bucket/stage) and says where: the job it submits next names the copy.
func (c *Controller) StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error) {
	if c.cfg.StagingDir == "" {
		return api.StagedFiles{}, Unsupported("this controller takes no files: it reads the paths a job names")
	}
	p, err := stage.Unpack(archive, c.cfg.StagingDir)
	if err != nil {
		return api.StagedFiles{}, Invalid("%v", err)
	}
	return api.StagedFiles{Path: p}, nil
}

// stagedDirs lists the stage directories dag's local paths are in.
func (c *Controller) stagedDirs(dag task.DAG) []string {
	if c.cfg.StagingDir == "" {
		return nil
	}
	var out []string
	for _, p := range dag.LocalPaths() {
		if dir, ok := stage.Owns(c.cfg.StagingDir, *p); ok {
			out = append(out, dir)
		}
	}
	return out
}

// unstage removes the staged copies of dag's local paths, in the
// background.
func (c *Controller) unstage(dag task.DAG) {
	dirs := c.stagedDirs(dag)
	if len(dirs) == 0 {
		return
	}
	c.goCall(func(context.Context) error {
		var errs []error
		for _, d := range dirs {
			errs = append(errs, os.RemoveAll(d))
		}
		return errors.Join(errs...)
	}, func(err error) {
		if err != nil {
			c.log.Warn("cannot remove staged files", "err", err)
		}
	})
}

// stageKeep is how long a staged copy no unfinished job names is kept: a
// CLI sends the files before it submits the job.
const stageKeep = time.Hour

// sweepStaged removes, at start, staged copies that no unfinished job
// still needs.
func (c *Controller) sweepStaged(unfinished map[int64]bucket.Job, ready map[int64]*bucket.Record) {
	if c.cfg.StagingDir == "" {
		return
	}
	keep := map[string]bool{}
	for id, j := range unfinished {
		if ready[id] == nil {
			for _, d := range c.stagedDirs(j.DAG) {
				keep[d] = true
			}
		}
	}
	if err := stage.Sweep(c.cfg.StagingDir, stageKeep, func(dir string) bool { return keep[dir] }); err != nil {
		c.log.Warn("cannot remove staged files", "err", err)
	}
}
