package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/store"
)

// Logs streams a job's output. With taskIndex nil every task is shown in
// order, each after a header line when the job is a pipeline. Without
// Follow it returns what every attempt of the task printed, attempt after
// attempt (Tail: the last lines of the latest attempt only), and ends. With
// Follow it keeps going until the task is finished, switching to each new
// attempt after a recovery.
func (c *Controller) Logs(ctx context.Context, jobID int64, taskIndex *int, opts engine.LogOptions) (io.ReadCloser, error) {
	rec, err := c.get(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var idxs []int
	if taskIndex != nil {
		if *taskIndex < 0 || *taskIndex >= len(rec.Tasks) {
			return nil, NotFound("managed job %d has no task %d", jobID, *taskIndex)
		}
		idxs = []int{*taskIndex}
	} else {
		for i := range rec.Tasks {
			idxs = append(idxs, i)
		}
	}
	if rec.Job.DAG.IsGroup() {
		// A job group runs as one attempt of task 0: its log holds every
		// task's lines, each prefixed with its task's name.
		idxs = []int{0}
	}
	headers := taskIndex == nil && len(idxs) > 1
	pr, pw := io.Pipe()
	go func() {
		var err error
		for _, i := range idxs {
			if headers {
				if _, err = fmt.Fprintf(pw, "==> task %d (%s) <==\n", i, rec.Tasks[i].Name); err != nil {
					break
				}
			}
			if err = c.taskLogs(ctx, pw, jobID, i, opts); err != nil {
				break
			}
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// taskLogs writes one task's logs to w.
func (c *Controller) taskLogs(ctx context.Context, w io.Writer, jobID int64, idx int, opts engine.LogOptions) error {
	done := 0 // attempts up to this number have been written
	first := true
	for {
		changed := c.notes.wait(jobID)
		rec, err := c.get(ctx, jobID)
		if err != nil {
			return err
		}
		var atts []store.Attempt
		for _, a := range rec.Attempts {
			if a.Task == idx {
				atts = append(atts, a)
			}
		}
		latest := 0
		if len(atts) > 0 {
			latest = atts[len(atts)-1].Number
		}
		for _, a := range atts {
			if a.Number <= done {
				continue
			}
			// Tail: the last lines of the latest attempt, then (following)
			// every later attempt in full.
			tail := 0
			if opts.Tail > 0 && first {
				if a.Number != latest {
					done = a.Number
					continue
				}
				tail = opts.Tail
			}
			if a.Live() && !opts.Follow {
				// Not following: what the running attempt printed so far.
				if err := c.copyAttempt(ctx, w, a, tail, &first); err != nil {
					return err
				}
				done = a.Number
				continue
			}
			if a.Live() {
				ok, err := c.followAttempt(ctx, w, jobID, a, tail, &first)
				if err != nil {
					return err
				}
				if !ok {
					break // not started on the engine yet; wait for news
				}
				done = a.Number
				continue
			}
			if !a.PlacedAt.IsZero() || a.Number == latest {
				if err := c.copyAttempt(ctx, w, a, tail, &first); err != nil {
					return err
				}
			}
			done = a.Number
		}
		t := rec.Tasks[idx]
		if !opts.Follow || t.Status.Terminal() && done >= latest {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// copyAttempt writes an attempt's logs (not following); an attempt the
// engine has nothing for is skipped.
func (c *Controller) copyAttempt(ctx context.Context, w io.Writer, a store.Attempt, tail int, first *bool) error {
	rc, err := c.eng.Logs(ctx, refOf(&a), engine.LogOptions{Tail: tail})
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logs of job %d task %d attempt %d: %w", a.JobID, a.Task, a.Number, err)
	}
	defer rc.Close()
	if err := attemptHeader(w, a, first); err != nil {
		return err
	}
	_, err = io.Copy(w, rc)
	return err
}

// followAttempt streams a live attempt until its stream ends, or until it
// has ended and LogDrainGrace has passed. ok=false: the engine has no logs
// for it yet.
func (c *Controller) followAttempt(ctx context.Context, w io.Writer, jobID int64, a store.Attempt, tail int, first *bool) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := c.eng.Logs(sctx, refOf(&a), engine.LogOptions{Follow: true, Tail: tail})
	if errors.Is(err, engine.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("logs of job %d task %d attempt %d: %w", a.JobID, a.Task, a.Number, err)
	}
	defer rc.Close()
	if err := attemptHeader(w, a, first); err != nil {
		return true, err
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, rc)
		copied <- err
	}()
	var drain <-chan time.Time
	for {
		changed := c.notes.wait(jobID)
		if drain == nil {
			if rec, err := c.store.Get(ctx, jobID); err == nil && attemptEnded(rec, a) {
				timer := time.NewTimer(c.cfg.LogDrainGrace)
				defer timer.Stop()
				drain = timer.C
			}
		}
		select {
		case err := <-copied:
			return true, err
		case <-drain:
			cancel()
			rc.Close()
			<-copied
			return true, nil
		case <-changed:
		case <-ctx.Done():
			cancel()
			rc.Close()
			<-copied
			return true, ctx.Err()
		}
	}
}

func attemptEnded(rec store.Record, a store.Attempt) bool {
	for _, b := range rec.Attempts {
		if b.Task == a.Task && b.Number == a.Number {
			return !b.Live()
		}
	}
	return false
}

// attemptHeader separates attempts: nothing before the first one written,
// a line before each later one.
func attemptHeader(w io.Writer, a store.Attempt, first *bool) error {
	if *first {
		*first = false
		return nil
	}
	_, err := fmt.Fprintf(w, "--- attempt %d ---\n", a.Number)
	return err
}

// ControllerLog returns the job's controller log; with follow it keeps
// going until the job is finished.
func (c *Controller) ControllerLog(ctx context.Context, jobID int64, follow bool) (io.ReadCloser, error) {
	if _, err := c.get(ctx, jobID); err != nil {
		return nil, err
	}
	path := c.jlog.path(jobID)
	if !follow {
		c.jlog.sync()
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return io.NopCloser(eofReader{}), nil
		}
		return f, err
	}
	pr, pw := io.Pipe()
	go func() {
		var off int64
		for {
			changed := c.notes.wait(jobID)
			rec, err := c.get(ctx, jobID)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if rec.Job.Status.Terminal() {
				c.jlog.sync() // the last lines are on disk
			}
			n, err := copyFrom(pw, path, off)
			off += n
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if rec.Job.Status.Terminal() {
				pw.Close()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	return pr, nil
}

// copyFrom copies the file from offset off to w.
func copyFrom(w io.Writer, path string, off int64) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, f)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
