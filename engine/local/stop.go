package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
)

// Stop implements engine.Engine: SIGTERM to every runner (which forwards
// it to the task), up to Grace for them to end, then SIGKILL to every
// process of the attempt. It returns once none is left and sends Stopped.
// Stopping an ended or unknown attempt only sweeps stray processes.
func (e *Engine) Stop(ctx context.Context, ref engine.Ref) error {
	a, ended, err := e.lookup(ref)
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ended != nil || !a.setMode(modeStopping) {
		return e.killAll(ctx, a)
	}
	if err := touch(filepath.Join(a.dir, stoppedFile)); err != nil {
		return fmt.Errorf("stop %s: %w", ref, err)
	}
	a.waitLaunch()
	e.watch(a)
	e.signalRunners(a, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(e.cfg.Grace + stopMargin):
	case <-ctx.Done():
	}
	if err := e.killAll(ctx, a); err != nil {
		return fmt.Errorf("stop %s: %w", ref, err)
	}
	e.finish(a, engine.Event{Kind: engine.EventStopped, Reason: "stopped by skynomad"})
	return nil
}

// Preempt implements engine.Preempter (fault injection). With no notice
// every process of the attempt is killed at once. With a notice the
// deadline goes into each node's notice file
// (SKYPILOT_PREEMPTION_DEADLINE_FILE), a PreemptionNotice event is sent,
// the runners get SIGTERM (forwarded to the task) and everything left is
// killed at the deadline; Preempt returns before that. Either way the end
// is a Preempted event, whatever the runners recorded.
func (e *Engine) Preempt(ctx context.Context, ref engine.Ref, notice time.Duration) error {
	a, ended, err := e.lookup(ref)
	if err != nil {
		return err
	}
	if ended != nil || !a.setMode(modePreempting) {
		return nil // nothing left to preempt
	}
	reason := "preempted by fault injection"
	if err := writeFileAtomic(filepath.Join(a.dir, preemptedFile), []byte(reason+"\n")); err != nil {
		return fmt.Errorf("preempt %s: %w", ref, err)
	}
	a.waitLaunch()
	e.watch(a)
	if notice <= 0 {
		if err := e.killAll(ctx, a); err != nil {
			return fmt.Errorf("preempt %s: %w", ref, err)
		}
		e.finish(a, engine.Event{Kind: engine.EventPreempted, Reason: reason})
		return nil
	}
	deadline := e.cfg.Clock().Add(notice)
	for rank := range a.nodes {
		if err := driver.WriteNotice(filepath.Join(a.nodeDir(rank), noticeFile), deadline); err != nil {
			return fmt.Errorf("preempt %s: %w", ref, err)
		}
	}
	e.emit(engine.Event{Ref: ref, Kind: engine.EventPreemptionNotice, Deadline: deadline,
		Reason: fmt.Sprintf("preemption notice: the node goes in %s", notice)})
	e.signalRunners(a, syscall.SIGTERM)
	e.goTracked(func() {
		timer := time.NewTimer(deadline.Sub(e.cfg.Clock()))
		defer timer.Stop()
		select {
		case <-a.done:
		case <-timer.C:
		case <-e.ctx.Done():
			return // a new engine's Resume finishes the preemption
		}
		if err := e.killAll(e.ctx, a); err != nil {
			return
		}
		e.finish(a, engine.Event{Kind: engine.EventPreempted, Reason: reason + " after a notice"})
	})
	return nil
}

// Resume implements engine.Engine. It re-sends the end of an ended
// attempt, finishes a stop or preemption that a crash interrupted, starts
// the nodes a crash kept a launch from starting, and otherwise watches the
// attempt again (which reports its current phase, then its end).
func (e *Engine) Resume(ctx context.Context, at *engine.Attempt) error {
	a, ended, err := e.lookup(at.Ref)
	if err != nil {
		return err
	}
	if ended != nil {
		e.emit(*ended)
		return nil
	}
	switch a.currentMode() {
	case modeStopping:
		if err := e.killAll(ctx, a); err != nil {
			return fmt.Errorf("resume %s: %w", at.Ref, err)
		}
		e.finish(a, engine.Event{Kind: engine.EventStopped, Reason: "stopped by skynomad"})
	case modePreempting:
		if err := e.killAll(ctx, a); err != nil {
			return fmt.Errorf("resume %s: %w", at.Ref, err)
		}
		e.finish(a, engine.Event{Kind: engine.EventPreempted, Reason: "preempted by fault injection"})
	default:
		a.mu.Lock()
		a.reported = "" // report the current phase again
		a.mu.Unlock()
		// A launch the controller's crash cut short is finished now, under
		// the same attempt: its missing nodes never ran anything.
		a.launchMu.Lock()
		defer a.launchMu.Unlock()
		return e.startMissing(ctx, at, a)
	}
	return nil
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
