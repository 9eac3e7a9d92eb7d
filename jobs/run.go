package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	if !js.launchSlot {
		c.enqueue(js)
		return nil
	}
	return c.launchNext(js)
}

// launchNext writes the next attempt of the current task and launches it.
// The job holds a launch slot.
func (c *Controller) launchNext(js *jobState) error {
	t := js.cur()
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
	c.jlogf(js.job.ID, "placing attempt %d of task %d (%s) on %s", n, t.idx, t.rec.Name, describeChoice(choice))
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
// while the call was under way, it leaves nothing behind.
func (c *Controller) jobAfterCall(ref engine.Ref, err error) (*jobState, bool) {
	js, ok := c.jobs[ref.JobID]
	if !ok && err == nil {
		c.stopDetached(ref)
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

// backoff is reached when every choice of the plan lacked capacity: the
// task waits PENDING, then plans again from scratch.
func (c *Controller) backoff(js *jobState, t *taskState) error {
	js.job.LaunchRetries++
	n := js.job.LaunchRetries
	if limit := c.cfg.MaxLaunchRetries; limit > 0 && n >= limit {
		return c.finish(js, api.StatusFailedNoResource,
			fmt.Sprintf("no capacity for task %d (%s) after %d launch tries", t.idx, t.rec.Name, n))
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
	if t.rec.EndedAt.IsZero() {
		t.rec.EndedAt = now
	}
	if reason != "" {
		t.rec.FailureReason = reason
	}
	changed := []*taskState{t}
	for _, later := range js.tasks[t.idx+1:] {
		if !later.rec.Status.Terminal() {
			if err := c.setStatus(js, later, api.StatusCancelled); err != nil {
				return err
			}
			changed = append(changed, later)
		}
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

func (c *Controller) onEvent(ev engine.Event) {
	js, ok := c.jobs[ev.Ref.JobID]
	if !ok {
		c.log.Debug("event for a job not in progress", "ref", ev.Ref.String(), "kind", ev.Kind)
		if r := relaunched(ev); r != nil {
			// The engine relaunched an attempt of a job that has ended
			// meanwhile: leave nothing behind.
			c.stopDetached(*r)
		}
		return
	}
	c.guard(js, func() error { return c.handleEvent(js, ev) })
}

// relaunched returns the attempt an engine launched by itself to replace
// the preempted one (Event.Replacement), or nil.
func relaunched(ev engine.Event) *engine.Ref {
	r := ev.Replacement
	if ev.Kind != engine.EventPreempted || r == nil || r.JobID != ev.Ref.JobID || r.Task != ev.Ref.Task ||
		r.Attempt <= ev.Ref.Attempt {
		return nil
	}
	return r
}

func (c *Controller) handleEvent(js *jobState, ev engine.Event) error {
	if ev.Ref.Task < 0 || ev.Ref.Task >= len(js.tasks) {
		return nil
	}
	t := js.tasks[ev.Ref.Task]
	if t.att == nil || t.att.Number != ev.Ref.Attempt || !t.att.Live() {
		c.log.Debug("event for an attempt that is not current", "ref", ev.Ref.String(), "kind", ev.Kind)
		if r := relaunched(ev); r != nil && (t.att == nil || r.Attempt > t.att.Number) {
			// The engine relaunched an attempt the controller had already
			// given up (ended it, cancelled it): stop the replacement.
			c.jlogf(js.job.ID, "attempt %d was replaced by the %s engine after it ended here; stopping attempt %d",
				ev.Ref.Attempt, c.eng.Name(), r.Attempt)
			c.stopDetached(*r)
		}
		return nil
	}
	when := ev.Time
	if now := c.now(); when.IsZero() || when.After(now) {
		when = now
	}
	var err error
	switch ev.Kind {
	case engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning:
		if c.markStarted(js, t, ev, when) {
			err = c.save(js, []*taskState{t}, t.att)
		}
	case engine.EventExited:
		err = c.onExited(js, t, ev, when)
	case engine.EventPreempted:
		err = c.onPreempted(js, t, ev, when)
	case engine.EventNoCapacity:
		err = c.onNoCapacity(js, t, ev.Reason)
	case engine.EventStopped:
		if js.job.Status == api.StatusCancelling {
			t.endAttempt(store.OutcomeCancelled, when, nil)
			err = c.save(js, []*taskState{t}, t.att)
		} else {
			// Nothing of ours asked for it: recover as from a lost node.
			ev.Reason = "stopped unexpectedly: " + ev.Reason
			err = c.onPreempted(js, t, ev, when)
		}
	case engine.EventOperatorStopped:
		t.endAttempt(store.OutcomeStopped, when, nil)
		reason := "stopped outside skynomad"
		if ev.Reason != "" {
			reason += ": " + ev.Reason
		}
		c.jlogf(js.job.ID, "attempt %d %s", t.att.Number, reason)
		err = c.finish(js, api.StatusCancelled, reason)
	case engine.EventPreemptionNotice:
		c.jlogf(js.job.ID, "preemption notice at %s, deadline %s, node %s%s", when.Format("15:04:05"),
			ev.Deadline.Format("15:04:05"), nodeName(ev.Node), suffix(ev.Reason))
	default:
		c.log.Warn("unknown engine event", "kind", ev.Kind, "ref", ev.Ref.String())
	}
	if err != nil {
		return err
	}
	return c.advance(js)
}

// markStarted records that the attempt has its nodes (or started a phase);
// the first time, the task becomes RUNNING. It reports whether anything
// changed.
func (c *Controller) markStarted(js *jobState, t *taskState, ev engine.Event, when time.Time) bool {
	a := t.att
	changed := false
	if a.State == store.AttemptLaunching {
		a.State, a.LaunchedAt = store.AttemptLaunched, when
		changed = true
	}
	if a.PlacedAt.IsZero() {
		a.PlacedAt, a.Node = when, ev.Node
		t.stopNoCapacity()
		c.jlogf(js.job.ID, "attempt %d placed on node %s", a.Number, nodeName(ev.Node))
		changed = true
	}
	if t.seen == nil {
		t.seen = map[engine.EventKind]bool{}
	}
	if !t.seen[ev.Kind] {
		t.seen[ev.Kind] = true
		switch ev.Kind {
		case engine.EventSetupStarted:
			c.jlogf(js.job.ID, "attempt %d: setup started", a.Number)
		case engine.EventRunning:
			c.jlogf(js.job.ID, "attempt %d: run started", a.Number)
		}
	}
	// Placed is not yet running: until setup or run starts, the attempt may
	// still be given up for lack of room on its other nodes.
	if js.job.Status == api.StatusCancelling || ev.Kind == engine.EventPlaced {
		return changed
	}
	if t.rec.RunningSince.IsZero() {
		t.rec.RunningSince = when
		changed = true
	}
	if t.rec.StartedAt.IsZero() {
		t.rec.StartedAt = when
	}
	if js.job.StartedAt.IsZero() {
		js.job.StartedAt = when
	}
	if s := t.rec.Status; s == api.StatusStarting || s == api.StatusRecovering {
		c.setStatus(js, t, api.StatusRunning) // legal from both
		c.slots.placed(js)
		js.job.LaunchRetries = 0
		t.plan = planState{}
		changed = true
	}
	return changed
}

func (c *Controller) onExited(js *jobState, t *taskState, ev engine.Event, when time.Time) error {
	if ev.Phase == engine.PhaseSetup && ev.ExitCode == 0 {
		return nil // setup done; run follows
	}
	c.markStarted(js, t, ev, when)
	code := ev.ExitCode
	phase := "run"
	if ev.Phase == engine.PhaseSetup {
		phase = "setup"
	}
	n := t.att.Number
	if code == 0 {
		t.endAttempt(store.OutcomeSucceeded, when, &code)
	} else {
		t.endAttempt(store.OutcomeFailed, when, &code)
	}
	t.rec.ExitCode = &code
	if js.job.Status == api.StatusCancelling {
		return c.save(js, []*taskState{t}, t.att)
	}
	if code == 0 {
		c.jlogf(js.job.ID, "attempt %d: run exited with code 0", n)
		return c.taskSucceeded(js, t, when)
	}
	jr := recoveryOf(js, t)
	reason := fmt.Sprintf("%s exited with code %d", phase, code)
	switch {
	case slices.Contains(jr.RecoverOnExitCodes, code):
		c.jlogf(js.job.ID, "attempt %d: %s, which is in recover_on_exit_codes; restarting", n, reason)
	case t.rec.Restarts < jr.MaxRestartsOnErrors:
		t.rec.Restarts++
		c.jlogf(js.job.ID, "attempt %d: %s; restarting (restart %d of %d)", n, reason, t.rec.Restarts, jr.MaxRestartsOnErrors)
	default:
		status := api.StatusFailed
		if phase == "setup" {
			status = api.StatusFailedSetup
		}
		if jr.MaxRestartsOnErrors > 0 {
			c.jlogf(js.job.ID, "attempt %d: %s; no restarts left (%d used)", n, reason, t.rec.Restarts)
		} else {
			c.jlogf(js.job.ID, "attempt %d: %s", n, reason)
		}
		return c.finishAt(js, status, reason, when)
	}
	if err := c.setStatus(js, t, api.StatusRecovering); err != nil {
		return err
	}
	t.wantLaunch, t.cleanup = true, true
	c.openPlan(t)
	return c.save(js, []*taskState{t}, t.att)
}

// taskSucceeded moves a pipeline to its next task, or ends the job; the
// task ended at now.
func (c *Controller) taskSucceeded(js *jobState, t *taskState, now time.Time) error {
	if t.idx+1 >= len(js.tasks) {
		return c.finishAt(js, api.StatusSucceeded, "", now)
	}
	if err := c.setStatus(js, t, api.StatusSucceeded); err != nil {
		return err
	}
	t.rec.EndedAt = now
	next := js.tasks[t.idx+1]
	js.job.CurrentTask = next.idx
	js.job.Status = next.rec.Status
	js.job.LaunchRetries = 0
	next.rec.SubmittedAt = now
	next.wantLaunch = true
	c.jlogf(js.job.ID, "task %d (%s) succeeded; next: task %d (%s)", t.idx, t.rec.Name, next.idx, next.rec.Name)
	return c.save(js, []*taskState{t, next}, t.att)
}

func (c *Controller) onPreempted(js *jobState, t *taskState, ev engine.Event, when time.Time) error {
	if r := relaunched(ev); r != nil {
		return c.onReplaced(js, t, ev, *r, when)
	}
	if ev.Replacement != nil {
		c.log.Warn("preempted event with an unusable replacement; recovering as usual",
			"ref", ev.Ref.String(), "replacement", ev.Replacement.String())
	}
	a := t.att
	if a.Node == "" {
		a.Node = ev.Node
	}
	ran := t.rec.Status == api.StatusRunning
	t.endAttempt(store.OutcomePreempted, when, nil)
	if js.job.Status == api.StatusCancelling {
		c.jlogf(js.job.ID, "attempt %d preempted on node %s%s", a.Number, nodeName(ev.Node), suffix(ev.Reason))
		return c.save(js, []*taskState{t}, a) // gone either way: no recovery
	}
	if !ran {
		// Nothing of the task ran: it was never running, so there is
		// nothing to recover. Launch again, in the same place.
		c.jlogf(js.job.ID, "attempt %d was lost on node %s before the task started%s; launching again",
			a.Number, nodeName(ev.Node), suffix(ev.Reason))
		t.wantLaunch, t.cleanup = true, true
		return c.save(js, []*taskState{t}, a)
	}
	c.jlogf(js.job.ID, "attempt %d preempted on node %s%s", a.Number, nodeName(ev.Node), suffix(ev.Reason))
	t.rec.Recoveries++
	if err := c.setStatus(js, t, api.StatusRecovering); err != nil {
		return err
	}
	t.wantLaunch, t.cleanup = true, true
	c.planAfterPreemption(js, t, a.Choice)
	if len(t.rec.Blocked) > 0 {
		c.jlogf(js.job.ID, "recovering (%s): avoiding %s", recoveryName(js, t), blockedText(t.rec.Blocked, nil))
	} else {
		c.jlogf(js.job.ID, "recovering (%s)", recoveryName(js, t))
	}
	return c.save(js, []*taskState{t}, a)
}

// onReplaced handles a preemption the engine already recovered by itself
// (Nomad placed a replacement): that is the recovery. The replacement is
// recorded as the next attempt, launched on the same choice, in the same
// transaction that ends the preempted one; the controller does not launch
// it. While cancelling it is recorded too, so that it gets stopped.
func (c *Controller) onReplaced(js *jobState, t *taskState, ev engine.Event, r engine.Ref, when time.Time) error {
	a := t.att
	if a.Node == "" {
		a.Node = ev.Node
	}
	t.endAttempt(store.OutcomePreempted, when, nil)
	c.jlogf(js.job.ID, "attempt %d preempted on node %s%s; %s placed a replacement: attempt %d",
		a.Number, nodeName(ev.Node), suffix(ev.Reason), engineTitle(c.eng.Name()), r.Attempt)
	next := &store.Attempt{
		JobID: js.job.ID, Task: t.idx, Number: r.Attempt, Choice: a.Choice,
		State: store.AttemptLaunched, CreatedAt: when, LaunchedAt: when,
	}
	t.rec.Attempt = r.Attempt
	t.att = next
	t.seen = nil
	t.wantLaunch, t.cleanup = false, false
	if js.job.Status != api.StatusCancelling {
		t.rec.Recoveries++
		if err := c.setStatus(js, t, api.StatusRecovering); err != nil {
			return err
		}
		c.armNoCapacity(js, t)
	}
	return c.save(js, []*taskState{t}, a, next)
}

func (c *Controller) onNoCapacity(js *jobState, t *taskState, reason string) error {
	// The engine gave the attempt up (even one with some nodes placed: the
	// rest never found room), so it ends here and the next choice follows.
	a := t.att
	t.endAttempt(store.OutcomeNoCapacity, c.now(), nil)
	c.jlogf(js.job.ID, "attempt %d: no capacity on %s%s", a.Number, describeChoice(a.Choice), suffix(reason))
	if js.job.Status == api.StatusCancelling {
		return c.save(js, []*taskState{t}, a)
	}
	c.noCapacity(t, a.Choice)
	t.wantLaunch, t.cleanup = true, true
	return c.save(js, []*taskState{t}, a)
}

// resumeAll takes over jobs read from the store (at start, or just
// submitted): each is re-attached to its live attempt or queued.
func (c *Controller) resumeAll(recs []store.Record) {
	for _, rec := range recs {
		if _, ok := c.jobs[rec.Job.ID]; ok || rec.Job.Status.Terminal() || len(rec.Tasks) == 0 {
			continue
		}
		js := restore(rec)
		c.jobs[js.job.ID] = js
		c.guard(js, func() error { return c.reattach(js) })
	}
}

func (c *Controller) reattach(js *jobState) error {
	t := js.cur()
	status := js.job.Status
	if status != api.StatusPending || !js.job.StartedAt.IsZero() {
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
		if status == api.StatusStarting || status == api.StatusRecovering {
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

func nodeName(n string) string {
	if n == "" {
		return "(unknown)"
	}
	return n
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// engineTitle is the engine's name as a sentence starts it ("Nomad").
func engineTitle(name string) string {
	if name == "" {
		return "the engine"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

func recoveryName(js *jobState, t *taskState) string {
	if s := recoveryOf(js, t).Strategy; s != "" {
		return s
	}
	return "EAGER_NEXT_REGION"
}
