package jobs

import (
	"errors"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// resumeAll takes over jobs read from the store (at start, or just
// submitted): each is re-attached to its live attempt or queued.
func (c *Controller) resumeAll(recs []store.Record) {
	var restored []*jobState
	for _, rec := range recs {
		if _, ok := c.jobs[rec.Job.ID]; ok || rec.Job.Status.Terminal() || len(rec.Tasks) == 0 {
			continue
		}
		js := restore(rec)
		js.files.ready = c.readyFiles[js.job.ID]
		delete(c.readyFiles, js.job.ID)
		c.jobs[js.job.ID] = js
		restored = append(restored, js)
	}
	// Pool jobs take back their workers before anything advances.
	for _, js := range restored {
		c.adoptPoolMember(js)
	}
	for _, js := range restored {
		c.guard(js, func() error { return c.reattach(js) })
	}
}

func (c *Controller) reattach(js *jobState) error {
	t := js.cur()
	status := js.job.Status
	if (status != api.StatusPending || !js.job.StartedAt.IsZero()) && !isPoolJob(js) {
		c.slots.force(js, false)
	}
	if status == api.StatusCancelling {
		c.jlogf(js.job.ID, "controller restarted; finishing the cancellation")
		return c.advance(js)
	}
	if t.att != nil && t.att.Live() {
		if status == api.StatusPending {
			// Cannot be written so, but a live attempt means launching.
			to := api.StatusStarting
			if !t.rec.StartedAt.IsZero() {
				to = api.StatusRecovering
			}
			if err := c.setStatus(js, t, to); err != nil {
				return err
			}
			status = to
		}
		if (status == api.StatusStarting || status == api.StatusRecovering) && !isPoolJob(js) {
			c.slots.force(js, true)
		}
		c.jlogf(js.job.ID, "controller restarted; re-attaching to attempt %d", t.att.Number)
		if !t.att.PlacedAt.IsZero() {
			// Logged before the restart; Resume replays them.
			t.seen = map[engine.EventKind]bool{engine.EventSetupStarted: true, engine.EventRunning: true}
		}
		c.resume(js, t)
		return nil
	}
	t.wantLaunch = true
	t.cleanup = t.att != nil && t.att.Outcome != store.OutcomeSucceeded
	if len(t.rec.Blocked) > 0 {
		t.plan = planState{mode: planBlocked}
	}
	if status == api.StatusRunning {
		// The attempt ended but the next one was never written.
		if err := c.setStatus(js, t, api.StatusRecovering); err != nil {
			return err
		}
		if err := c.save(js, []*taskState{t}); err != nil {
			return err
		}
	}
	return c.advance(js)
}

// resume re-attaches to a live attempt after a restart.
func (c *Controller) resume(js *jobState, t *taskState) {
	c.callEngine(js, t, c.eng.Resume, c.onResumed)
}

func (c *Controller) onResumed(ref engine.Ref, err error) {
	js, ok := c.jobAfterCall(ref, err)
	if !ok {
		return
	}
	c.guard(js, func() error {
		t := js.tasks[ref.Task]
		t.launching = false
		if t.att == nil || t.att.Number != ref.Attempt || !t.att.Live() {
			return c.advance(js)
		}
		switch {
		case err == nil:
			if err := c.markLaunched(js, t); err != nil {
				return err
			}
			c.armNoCapacity(js, t)
		case engine.IsInfeasible(err):
			// Finishing a launch the restart cut short found what no retry
			// can fix (the workdir is gone): as a launch would.
			return c.launchFailed(js, t, err)
		case errors.Is(err, engine.ErrNotFound):
			if js.job.Status == api.StatusCancelling {
				t.endAttempt(store.OutcomeCancelled, c.now(), nil)
				if err := c.save(js, []*taskState{t}, t.att); err != nil {
					return err
				}
				break
			}
			c.jlogf(js.job.ID, "attempt %d is unknown to the %s engine; launching it (again)", ref.Attempt, c.eng.Name())
			c.launch(js, t)
		default:
			t.callFailures++
			d := c.cfg.RetryBackoff.Delay(t.callFailures, c.rng)
			c.log.Warn("resume failed", "ref", ref.String(), "err", err)
			c.jlogf(js.job.ID, "re-attaching to attempt %d failed: %v; retrying in %s", ref.Attempt, err, d.Round(1e6))
			n := ref.Attempt
			c.setTimer(js, d, func() {
				if t.att != nil && t.att.Number == n && t.att.Live() && !t.launching && !t.stopping &&
					js.job.Status != api.StatusCancelling {
					c.resume(js, t)
				}
			})
		}
		return c.advance(js)
	})
}
