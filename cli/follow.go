package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

// pollInterval paces status polling while waiting for a job to end.
const pollInterval = 200 * time.Millisecond

// followJob streams a job's logs until it ends, prints how it ended and
// returns the exit code of its status. Ctrl-C stops following; the job
// goes on.
func followJob(ctx context.Context, u ui.UI, c controllerAPI, id int64) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := streamLogs(ctx, u, c, id, nil, true, 0); err != nil && ctx.Err() == nil {
		// The job goes on without its log stream: say so, and still wait
		// for its result.
		u.Warn("%v", err)
	}
	job, err := waitTerminal(ctx, c, id)
	if ctx.Err() != nil {
		u.Output("")
		u.Output("Stopped following managed job %d; it keeps running. Resume with: skynomad jobs logs %d", id, id)
		return withExitCode(ExitInterrupted, nil)
	}
	if err != nil {
		return err
	}
	finished(u, job)
	if code := statusExitCode(job.Status); code != ExitOK {
		return withExitCode(code, nil)
	}
	return nil
}

// streamLogs copies a job's logs to the UI until the stream ends. A nil
// task means every task, in order.
func streamLogs(ctx context.Context, u ui.UI, c controllerAPI, id int64, task *int, follow bool, tail int) error {
	rc, err := c.Logs(ctx, id, task, follow, tail)
	return copyStream(ctx, u, rc, err, fmt.Sprintf("the logs of job %d", id))
}

// copyStream copies an opened stream (or reports why it did not open) to
// the UI. Ctrl-C is not an error.
func copyStream(ctx context.Context, u ui.UI, rc io.ReadCloser, err error, what string) error {
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	defer rc.Close()
	if _, err := io.Copy(u.Stdout(), rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// waitTerminal polls the job until its status is final.
func waitTerminal(ctx context.Context, c controllerAPI, id int64) (api.Job, error) {
	jobs, err := waitAllTerminal(ctx, c, []int64{id})
	if err != nil {
		return api.Job{}, err
	}
	return jobs[0], nil
}

// waitAllTerminal polls the jobs, one request a round, until every one's
// status is final, and returns them.
func waitAllTerminal(ctx context.Context, c controllerAPI, ids []int64) ([]api.Job, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		res, err := c.Queue(ctx, api.QueueRequest{All: true, JobIDs: ids})
		if err != nil {
			return nil, fmt.Errorf("reading jobs %v: %w", ids, err)
		}
		if len(res.Jobs) != len(ids) {
			return nil, fmt.Errorf("the controller knows %d of the jobs %v", len(res.Jobs), ids)
		}
		done := 0
		for _, j := range res.Jobs {
			if j.Status.Terminal() {
				done++
			}
		}
		if done == len(ids) {
			return res.Jobs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// finished prints "✓ Managed job finished: 1 (status: SUCCEEDED)." or the
// failure with its reason.
func finished(u ui.UI, job api.Job) {
	msg := fmt.Sprintf("Managed job finished: %d (status: %s).", job.ID, job.Status)
	if job.Status == api.StatusSucceeded {
		u.Success("%s", msg)
		return
	}
	if reason := failureReason(job); reason != "" {
		msg += " Reason: " + reason
	}
	u.Failure("%s", msg)
}

// failureReason is the job's reason, else its first task's.
func failureReason(job api.Job) string {
	if job.FailureReason != "" {
		return job.FailureReason
	}
	for _, t := range job.Tasks {
		if t.FailureReason != "" {
			return t.FailureReason
		}
	}
	return ""
}
