package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// advance decides a job's next step once nothing is in flight for it: the
// one place that launches, stops, queues for a slot or finishes a cancel.
// Handlers change state, then call advance.
func (c *Controller) advance(js *jobState) error {
	if js.job.Status.Terminal() {
		return nil
	}
	t := js.cur()
	if t.launching || t.stopping {
		return nil // its completion calls advance again
	}
	if js.job.Status == api.StatusCancelling {
		if t.att != nil && t.att.Live() {
			c.stop(js, t)
			return nil
		}
		return c.finish(js, api.StatusCancelled, js.job.FailureReason)
	}
	if !t.wantLaunch || js.backingOff {
		if js.launchSlot && (t.att == nil || !t.att.Live()) {
			c.slots.placed(js) // nothing to launch: no slot to hold
		}
		return nil
	}
	if t.cleanup && t.att != nil {
		c.stop(js, t)
		return nil
	}
	if isPoolJob(js) {
		if !c.poolJobNeedsWorker(js) {
			return nil
		}
	} else if !js.launchSlot {
		c.enqueue(js)
		return nil
	}
	if c.needsUpload(js) {
		c.startUpload(js) // its return advances the job
		return nil
	}
	return c.launchNext(js)
}

// launchNext writes the next attempt of the current task and launches it.
// The job holds a launch slot.
func (c *Controller) launchNext(js *jobState) error {
	t := js.cur()
	var worker *store.Attempt
	if js.worker != nil {
		worker = js.worker.cur().att
	}
	choice, ok, err := c.nextChoice(js, t)
	if err != nil {
		return c.finish(js, api.StatusFailedPrechecks, err.Error())
	}
	if !ok {
		return c.backoff(js, t)
	}
	to := t.rec.Status
	if to == api.StatusPending {
		to = api.StatusStarting
		if !t.rec.StartedAt.IsZero() {
			to = api.StatusRecovering
		}
	}
	if err := c.setStatus(js, t, to); err != nil {
		return err
	}
	n := t.rec.Attempt + 1
	att := &store.Attempt{
		JobID: js.job.ID, Task: t.idx, Number: n, Choice: choice,
		State: store.AttemptLaunching, CreatedAt: c.now(),
	}
	if worker != nil {
		att.WorkerJob, att.WorkerAttempt = worker.JobID, worker.Number
	}
	t.rec.Attempt = n
	ch := choice
	t.rec.Choice = &ch
	t.att = att
	t.wantLaunch, t.cleanup = false, false
	t.seen = nil
	// The row exists before the engine hears of the attempt: a controller
	// that dies in between finds it and launches the same number again.
	if err := c.save(js, []*taskState{t}, att); err != nil {
		return err
	}
	if worker != nil {
		c.jlogf(js.job.ID, "placing attempt %d of task %d (%s) on worker %d of pool %s (%s)", n, t.idx, t.rec.Name,
			worker.JobID, js.job.Pool, describeChoice(choice))
	} else {
		c.jlogf(js.job.ID, "placing attempt %d of task %d (%s) on %s", n, t.idx, t.rec.Name, describeChoice(choice))
	}
	c.launch(js, t)
	return nil
}

// launch calls engine.Launch for the task's latest attempt.
func (c *Controller) launch(js *jobState, t *taskState) {
	c.callEngine(js, t, c.eng.Launch, c.onLaunched)
}

// callEngine runs call (Launch or Resume) for the task's latest attempt in
// the background, then done with its result.
func (c *Controller) callEngine(js *jobState, t *taskState, call func(context.Context, *engine.Attempt) error,
	done func(engine.Ref, error)) {
	a := c.engineAttempt(js, t)
	t.launching = true
	ref := a.Ref
	c.goCall(func(ctx context.Context) error { return call(ctx, a) },
		func(err error) { done(ref, err) })
}

// jobAfterCall finds the job an engine call was for. When the job ended
// while the call was under way and its attempt had not ended, it leaves
// nothing behind.
func (c *Controller) jobAfterCall(ref engine.Ref, err error) (*jobState, bool) {
	js, ok := c.jobs[ref.JobID]
	if !ok && c.stopOnReturn[ref] {
		delete(c.stopOnReturn, ref)
		if err == nil {
			c.stopDetached(ref)
		}
	}
	return js, ok
}

// markLaunched records that the engine has the task's attempt.
func (c *Controller) markLaunched(js *jobState, t *taskState) error {
	t.callFailures = 0
	if t.att.State != store.AttemptLaunching {
		return nil
	}
	t.att.State, t.att.LaunchedAt = store.AttemptLaunched, c.now()
	return c.save(js, []*taskState{t}, t.att)
}

func (c *Controller) onLaunched(ref engine.Ref, err error) {
	js, ok := c.jobAfterCall(ref, err)
	if !ok {
		return
	}
	c.guard(js, func() error {
		t := js.tasks[ref.Task]
		t.launching = false
		if t.att == nil || t.att.Number != ref.Attempt {
			return nil
		}
		if err != nil {
			return c.launchFailed(js, t, err)
		}
		if err := c.markLaunched(js, t); err != nil {
			return err
		}
		if q, ok := c.eng.(engine.Queuer); ok && q.QueuesLaunches() {
			c.slots.placed(js) // the engine's scheduler queues it from here
		}
		c.armNoCapacity(js, t)
		return c.advance(js)
	})
}

func (c *Controller) launchFailed(js *jobState, t *taskState, err error) error {
	n := t.att.Number
	if engine.IsInfeasible(err) {
		c.jlogf(js.job.ID, "attempt %d refused by the %s engine: %v", n, c.eng.Name(), err)
		t.endAttempt(store.OutcomeInfeasible, c.now(), nil)
		if js.job.Status == api.StatusCancelling {
			return c.advance(js)
		}
		return c.finish(js, api.StatusFailedPrechecks, err.Error())
	}
	if js.job.Status == api.StatusCancelling || !t.att.Live() {
		return c.advance(js)
	}
	if isPoolJob(js) && errors.Is(err, engine.ErrNotFound) {
		// Its worker is gone (the engine saw it first): nothing was
		// launched; the job waits for another worker. Until the loss
		// reaches the worker, that attempt of it looks ready: it must
		// not be given to a job again.
		c.jlogf(js.job.ID, "attempt %d not launched: %v; waiting for another worker", n, err)
		if p := c.poolSet[js.job.Pool]; p != nil {
			p.gone[t.att.WorkerJob] = t.att.WorkerAttempt
		}
		t.endAttempt(store.OutcomeNoCapacity, c.now(), nil)
		t.wantLaunch = true
		c.releaseWorker(js)
		if err := c.save(js, []*taskState{t}, t.att); err != nil {
			return err
		}
		return c.advance(js)
	}
	// Anything else may pass (the engine was unreachable, out of room):
	// retried with backoff, and counted against the launch retries.
	js.job.LaunchRetries++
	if limit := c.cfg.MaxLaunchRetries; limit > 0 && js.job.LaunchRetries >= limit {
		c.jlogf(js.job.ID, "launching attempt %d failed: %v", n, err)
		return c.finish(js, api.StatusFailedNoResource,
			fmt.Sprintf("task %d (%s) could not be launched in %d tries: %v", t.idx, t.rec.Name, js.job.LaunchRetries, err))
	}
	if err := c.save(js, nil); err != nil {
		return err
	}
	t.callFailures++
	d := c.cfg.RetryBackoff.Delay(t.callFailures, c.rng)
	c.log.Warn("launch failed", "job", js.job.ID, "attempt", n, "err", err)
	c.jlogf(js.job.ID, "launching attempt %d failed: %v; retrying in %s", n, err, d.Round(1e6))
	c.setTimer(js, d, func() {
		if js.job.Status != api.StatusCancelling && t.att != nil && t.att.Number == n && t.att.Live() && !t.launching {
			c.launch(js, t)
		}
	})
	return nil
}

// armNoCapacity gives a launched attempt NoCapacityTimeout to be placed.
func (c *Controller) armNoCapacity(js *jobState, t *taskState) {
	if c.cfg.NoCapacityTimeout < 0 || t.att == nil || !t.att.Live() || !t.att.PlacedAt.IsZero() || t.noCap != nil {
		return
	}
	t.noCapGen++
	gen, n := t.noCapGen, t.att.Number
	t.noCap = c.after(c.cfg.NoCapacityTimeout, func() {
		if c.jobs[js.job.ID] != js || t.noCapGen != gen {
			return
		}
		t.noCap = nil
		if t.att == nil || t.att.Number != n || !t.att.Live() || !t.att.PlacedAt.IsZero() {
			return
		}
		c.guard(js, func() error {
			reason := fmt.Sprintf("not placed within %s", c.cfg.NoCapacityTimeout)
			if err := c.onNoCapacity(js, t, reason); err != nil {
				return err
			}
			return c.advance(js)
		})
	})
}

// backoff is reached when every choice of the plan lacked capacity: the
// task waits PENDING, then plans again from scratch.
func (c *Controller) backoff(js *jobState, t *taskState) error {
	js.job.LaunchRetries++
	n := js.job.LaunchRetries
	if limit := c.cfg.MaxLaunchRetries; limit > 0 && n >= limit {
		last := ""
		if t.lastNoCap != "" {
			last = "; last: " + t.lastNoCap
		}
		return c.finish(js, api.StatusFailedNoResource,
			fmt.Sprintf("no capacity for task %d (%s) after %d launch tries%s", t.idx, t.rec.Name, n, last))
	}
	if err := c.setStatus(js, t, api.StatusPending); err != nil {
		return err
	}
	c.slots.placed(js)
	c.openPlan(t)
	js.backingOff = true
	if err := c.save(js, []*taskState{t}); err != nil {
		return err
	}
	d := c.cfg.RetryBackoff.Delay(n, c.rng)
	c.jlogf(js.job.ID, "no capacity for task %d (%s) in any candidate location; retrying in %s (try %d)",
		t.idx, t.rec.Name, d.Round(1e6), n)
	c.setTimer(js, d, func() { js.backingOff = false })
	return nil
}
