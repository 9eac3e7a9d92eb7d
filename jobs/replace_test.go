package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// The engine recovers a preemption by itself (Nomad placed a replacement):
// Preempted carries the replacement, which the controller records as the
// next attempt, counted as a recovery, without launching anything.

func TestEngineReplacement(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	ctx := context.Background()
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	a1 := engine.Ref{JobID: id, Attempt: 1}
	a2 := h.eng.Relaunch(a1, "node-us-east-1", "alloc lost: node node-us-east-1 is down")

	j := h.wait(id, "attempt 2 recorded", func(j api.Job) bool { return j.Tasks[0].Attempt == 2 })
	if tk := j.Tasks[0]; j.Status != api.StatusRecovering || tk.Recoveries != 1 || tk.Restarts != 0 {
		t.Errorf("after the replacement: %s, recoveries %d, restarts %d; want RECOVERING, 1, 0", j.Status, tk.Recoveries, tk.Restarts)
	}
	// The same event delivered again changes nothing.
	h.eng.Emit(engine.Event{Ref: a1, Kind: engine.EventPreempted, Node: "node-us-east-1", Replacement: &a2})
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventPlaced, Node: "node-us-east-1"})
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventRunning, Node: "node-us-east-1"})
	h.waitStatus(id, api.StatusRunning)
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventExited, Phase: engine.PhaseRun})
	j = h.waitTerminal(id)
	if tk := j.Tasks[0]; j.Status != api.StatusSucceeded || tk.Recoveries != 1 || tk.Restarts != 0 || tk.Attempt != 2 || j.Recoveries != 1 {
		t.Errorf("final: %s, recoveries %d, restarts %d, attempt %d; want SUCCEEDED, 1, 0, 2", j.Status, tk.Recoveries, tk.Restarts, tk.Attempt)
	}

	if diff := cmp.Diff([]engine.Ref{a1}, refs(h.launchesOf(id))); diff != "" {
		t.Errorf("launches (-want +got):\n%s", diff)
	}
	if stops := h.eng.Stops(); len(stops) != 0 {
		t.Errorf("stopped %v; nothing needed stopping", stops)
	}
	rec, err := h.store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Number         int
		State          store.AttemptState
		Outcome, Node  string
		SameChoiceAsA1 bool
	}
	var got []row
	for _, a := range rec.Attempts {
		got = append(got, row{a.Number, a.State, a.Outcome, a.Node, cmp.Equal(a.Choice, rec.Attempts[0].Choice)})
	}
	want := []row{
		{1, store.AttemptEnded, store.OutcomePreempted, "node-us-east-1", true},
		{2, store.AttemptEnded, store.OutcomeSucceeded, "node-us-east-1", true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempt rows (-want +got):\n%s", diff)
	}
	log := h.controllerLog(id)
	for _, line := range []string{
		"attempt 1 preempted on node node-us-east-1: alloc lost: node node-us-east-1 is down; Fake placed a replacement: attempt 2",
		"attempt 2 placed on node node-us-east-1",
		"job finished: SUCCEEDED",
	} {
		if !strings.Contains(log, line) {
			t.Errorf("controller log lacks %q:\n%s", line, log)
		}
	}
	if strings.Contains(log, "placing attempt 2") {
		t.Errorf("the controller placed attempt 2 itself:\n%s", log)
	}
}

// TestEngineReplacementAcrossRestart: the controller dies after recording
// the replacement; the next one resumes attempt 2 (not 1, not a new one).
func TestEngineReplacementAcrossRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	a1 := engine.Ref{JobID: id, Attempt: 1}
	a2 := h.eng.Relaunch(a1, "n1", "alloc stopped: alloc is being migrated")
	h.wait(id, "attempt 2 recorded", func(j api.Job) bool { return j.Tasks[0].Attempt == 2 })
	h.cancel()
	<-h.ctl.done

	q := NewEventQueue()
	h.eng.SetSink(q.Sink)
	h.cfg.Events = q
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.eng.WaitFor(ctx, func() bool { return slices.Contains(h.eng.Resumes(), a2) }); err != nil {
		t.Fatalf("attempt 2 was never resumed; resumes: %v", h.eng.Resumes())
	}
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventPlaced, Node: "n1"})
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventRunning, Node: "n1"})
	h.waitStatus(id, api.StatusRunning)
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventExited, Phase: engine.PhaseRun})
	j := h.waitTerminal(id)
	if tk := j.Tasks[0]; j.Status != api.StatusSucceeded || tk.Recoveries != 1 || tk.Restarts != 0 || tk.Attempt != 2 {
		t.Errorf("final: %s, recoveries %d, restarts %d, attempt %d; want SUCCEEDED, 1, 0, 2", j.Status, tk.Recoveries, tk.Restarts, tk.Attempt)
	}
	if diff := cmp.Diff([]engine.Ref{a2}, h.eng.Resumes()); diff != "" {
		t.Errorf("resumes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]engine.Ref{a1}, refs(h.launchesOf(id))); diff != "" {
		t.Errorf("launches (-want +got):\n%s", diff)
	}
}

// TestEngineReplacementWhileCancelling: the replacement appears while the
// job is being cancelled: no recovery is counted and it is stopped too.
func TestEngineReplacementWhileCancelling(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	ctx := context.Background()
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	a1 := engine.Ref{JobID: id, Attempt: 1}
	release := make(chan struct{})
	h.eng.SetStopHook(func(ctx context.Context, ref engine.Ref) error {
		if ref == a1 {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if _, err := h.ctl.Cancel(ctx, api.CancelRequest{JobIDs: []int64{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(id, api.StatusCancelling)
	a2 := h.eng.Relaunch(a1, "n1", "alloc lost")
	h.wait(id, "attempt 2 recorded", func(j api.Job) bool { return j.Tasks[0].Attempt == 2 })
	close(release)
	j := h.waitTerminal(id)
	if j.Status != api.StatusCancelled || j.Tasks[0].Recoveries != 0 {
		t.Errorf("final: %s, recoveries %d; want CANCELLED, 0", j.Status, j.Tasks[0].Recoveries)
	}
	if !slices.Contains(h.eng.Stops(), a2) {
		t.Errorf("the replacement was not stopped; stops: %v", h.eng.Stops())
	}
	if live := h.eng.Live(); slices.Contains(live, a2) {
		t.Errorf("attempt 2 still runs: %v", live)
	}
}

// TestEngineReplacementAfterTheJobEnded: a replacement reported for a job
// that has already finished is stopped.
func TestEngineReplacementAfterTheJobEnded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	a1 := engine.Ref{JobID: id, Attempt: 1}
	if _, err := h.ctl.Cancel(context.Background(), api.CancelRequest{JobIDs: []int64{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitTerminal(id)
	a2 := h.eng.Relaunch(a1, "n1", "alloc lost")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.eng.WaitFor(ctx, func() bool { return slices.Contains(h.eng.Stops(), a2) }); err != nil {
		t.Errorf("the late replacement was not stopped; stops: %v", h.eng.Stops())
	}
}
