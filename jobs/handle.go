package jobs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// onEvent takes an engine event on the loop to the job it is about.
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
		t.startBilling(when)
		t.stopNoCapacity()
		c.jlogf(js.job.ID, "attempt %d placed on node %s", a.Number, nodeName(ev.Node))
		changed = true
	}
	if ev.Kind == engine.EventRunning && a.RunAt.IsZero() {
		a.RunAt = when // a pool worker is ready from here
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
	if t.idx+1 >= len(js.tasks) || js.group() {
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
	t.obs.cause = recoveryCause(ev.Reason, false)
	if err := c.setStatus(js, t, api.StatusRecovering); err != nil {
		return err
	}
	t.wantLaunch, t.cleanup = true, true
	if isPoolJob(js) {
		c.jlogf(js.job.ID, "recovering on another worker of pool %s", js.job.Pool)
		return c.save(js, []*taskState{t}, a)
	}
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
		t.obs.cause = recoveryCause(ev.Reason, true)
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
	t.lastNoCap = describeChoice(a.Choice) + suffix(reason)
	c.jlogf(js.job.ID, "attempt %d: no capacity on %s", a.Number, t.lastNoCap)
	if js.job.Status == api.StatusCancelling {
		return c.save(js, []*taskState{t}, a)
	}
	c.noCapacity(t, a.Choice)
	t.wantLaunch, t.cleanup = true, true
	return c.save(js, []*taskState{t}, a)
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
