package jobs

import (
	"context"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// stop calls engine.Stop for the task's latest attempt: to cancel, or to
// clean up before the next attempt.
func (c *Controller) stop(js *jobState, t *taskState) {
	t.stopping = true
	ref := refOf(t.att)
	c.goCall(func(ctx context.Context) error { return c.eng.Stop(ctx, ref) },
		func(err error) { c.onStopDone(ref, err) })
}

func (c *Controller) onStopDone(ref engine.Ref, err error) {
	js, ok := c.jobs[ref.JobID]
	if !ok {
		return
	}
	c.guard(js, func() error {
		t := js.tasks[ref.Task]
		t.stopping = false
		if t.att == nil || t.att.Number != ref.Attempt {
			return c.advance(js)
		}
		if err != nil {
			t.stopFailures++
			c.log.Warn("stop failed", "job", ref.JobID, "attempt", ref.Attempt, "err", err)
			if js.job.Status != api.StatusCancelling && t.stopFailures >= 3 {
				c.jlogf(js.job.ID, "stopping attempt %d failed %d times (%v); going on without it", ref.Attempt, t.stopFailures, err)
				t.cleanup = false
				return c.advance(js)
			}
			d := c.cfg.RetryBackoff.Delay(t.stopFailures, c.rng)
			c.jlogf(js.job.ID, "stopping attempt %d failed: %v; retrying in %s", ref.Attempt, err, d.Round(1e6))
			c.setTimer(js, d, func() {})
			return nil
		}
		t.stopFailures = 0
		t.cleanup = false
		if t.att.Live() {
			t.endAttempt(store.OutcomeCancelled, c.now(), nil)
			if err := c.save(js, []*taskState{t}, t.att); err != nil {
				return err
			}
		}
		return c.advance(js)
	})
}

// finish ends the job now with status (from its current task) and reason.
func (c *Controller) finish(js *jobState, status api.Status, reason string) error {
	return c.finishAt(js, status, reason, c.now())
}

// finishAt ends the job as finish does, dated at (when its task ended, which
// may be before the controller heard of it).
func (c *Controller) finishAt(js *jobState, status api.Status, reason string, now time.Time) error {
	t := js.cur()
	if status == api.StatusCancelled && t.rec.Status != api.StatusPending {
		if err := c.setStatus(js, t, api.StatusCancelling); err != nil {
			return err
		}
	}
	if err := c.setStatus(js, t, status); err != nil {
		return err
	}
	t.closeInterval(now)
	t.stopBilling(now) // the job's cost ends with it
	if t.rec.EndedAt.IsZero() {
		t.rec.EndedAt = now
	}
	if reason != "" {
		t.rec.FailureReason = reason
	}
	changed := []*taskState{t}
	// A job group's other tasks follow its task 0 when it is saved
	// (mirrorGroup); a pipeline's later tasks are cancelled.
	for _, later := range js.tasks[t.idx+1:] {
		if js.group() || later.rec.Status.Terminal() {
			continue
		}
		if err := c.setStatus(js, later, api.StatusCancelled); err != nil {
			return err
		}
		changed = append(changed, later)
	}
	var atts []*store.Attempt
	if a := t.att; a != nil {
		if a.Live() && !t.launching && !t.stopping {
			a.State, a.Outcome, a.EndedAt = store.AttemptEnded, store.OutcomeAbandoned, now
		}
		atts = append(atts, a)
		// Leave nothing running: a failed multi-node attempt may have nodes
		// left, an attempt being cleaned up may not be gone yet. (A launch
		// in flight is stopped when it returns; a stop in flight finishes.)
		gone := a.Outcome == store.OutcomeCancelled || a.Outcome == store.OutcomeStopped
		if status != api.StatusSucceeded && !gone && !t.launching && !t.stopping {
			c.stopDetached(refOf(a))
		}
	}
	js.job.Status, js.job.EndedAt, js.job.FailureReason = status, now, reason
	line := "job finished: " + string(status)
	if reason != "" {
		line += " (" + reason + ")"
	}
	c.jlogf(js.job.ID, "%s", line)
	if err := c.save(js, changed, atts...); err != nil {
		return err
	}
	c.forget(js)
	c.filesEnded(js)
	return nil
}

// cancelJob starts cancelling a job; it reports whether the job was not
// already finished.
func (c *Controller) cancelJob(js *jobState, why string) (bool, error) {
	if js.job.Status.Terminal() {
		return false, nil
	}
	if js.job.Status == api.StatusCancelling {
		return true, nil
	}
	c.jlogf(js.job.ID, "%s", why)
	c.dequeue(js)
	if js.timer != nil {
		js.timer.Stop()
		js.timer = nil
		js.timerGen++
	}
	js.backingOff = false
	t := js.cur()
	t.stopNoCapacity()
	if t.rec.Status == api.StatusPending && !t.launching && !t.stopping && (t.att == nil || !t.att.Live()) {
		return true, c.finish(js, api.StatusCancelled, "")
	}
	if err := c.setStatus(js, t, api.StatusCancelling); err != nil {
		return true, err
	}
	if err := c.save(js, []*taskState{t}); err != nil {
		return true, err
	}
	return true, c.advance(js)
}
