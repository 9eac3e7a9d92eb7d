package jobs

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// TestRestartSafety kills controller A (its context is cancelled, nothing
// is shut down cleanly) while one job runs, one is being launched, one is
// being cancelled and one waits for a slot; controller B on the same store
// and engine must re-attach to the first, launch the second with the same
// attempt number, finish the cancel and start the waiting one — and never
// launch anything twice.
func TestRestartSafety(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxLaunching = 2 })
	h.eng.SetScript(enginetest.Place)
	ctx := context.Background()

	running := h.submit(oneTask("running"))
	h.waitStatus(running, api.StatusRunning)
	cancelling := h.submit(oneTask("cancelling"))
	h.waitStatus(cancelling, api.StatusRunning)

	// The next launch hangs until A dies: the engine never hears of it.
	h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		<-ctx.Done()
		return ctx.Err()
	})
	h.eng.SetStopHook(func(ctx context.Context, ref engine.Ref) error {
		<-ctx.Done()
		return ctx.Err()
	})
	launching := h.submit(oneTask("launching"))
	h.waitStatus(launching, api.StatusStarting)
	if _, err := h.ctl.Cancel(ctx, api.CancelRequest{JobIDs: []int64{cancelling}}); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(cancelling, api.StatusCancelling)
	// MaxLaunching 2: "launching" holds one slot and "waiting" the other
	// (its launch hangs too), so "queued" stays PENDING.
	waiting := h.submit(oneTask("waiting"))
	h.waitStatus(waiting, api.StatusStarting)
	queued := h.submit(oneTask("queued"))
	h.sync()
	if j, _ := h.ctl.Job(ctx, queued); j.Status != api.StatusPending {
		t.Fatalf("queued job is %s, want PENDING", j.Status)
	}

	// Crash A: cancel its context and let its goroutines die on their own.
	h.cancel()
	<-h.ctl.done
	launchesBefore := len(h.eng.Launches())

	// B takes over with the same store and the same engine state.
	h.eng.SetLaunchHook(nil)
	h.eng.SetStopHook(nil)
	q := NewEventQueue()
	h.eng.SetSink(q.Sink)
	h.cfg.Events = q
	h.start()

	h.waitStatus(launching, api.StatusRunning)
	h.waitStatus(waiting, api.StatusRunning)
	h.waitStatus(queued, api.StatusRunning)
	if j := h.waitTerminal(cancelling); j.Status != api.StatusCancelled {
		t.Errorf("cancelling job ended %s", j.Status)
	}

	resumed := map[int64][]int{}
	for _, r := range h.eng.Resumes() {
		resumed[r.JobID] = append(resumed[r.JobID], r.Attempt)
	}
	wantResumed := map[int64][]int{running: {1}, launching: {1}, waiting: {1}}
	if diff := cmp.Diff(wantResumed, resumed); diff != "" {
		t.Errorf("Resume calls by job (-want +got):\n%s", diff)
	}
	after := h.eng.Launches()[launchesBefore:]
	var relaunched []engine.Ref
	for _, a := range after {
		relaunched = append(relaunched, a.Ref)
	}
	want := []engine.Ref{{JobID: launching, Attempt: 1}, {JobID: waiting, Attempt: 1}, {JobID: queued, Attempt: 1}}
	if diff := cmp.Diff(want, relaunched, sortRefs); diff != "" {
		t.Errorf("launches by controller B (-want +got):\n%s", diff)
	}
	for _, id := range []int64{running, launching, waiting, queued} {
		rec, err := h.store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Attempts) != 1 || rec.Tasks[0].Attempt != 1 {
			t.Errorf("job %d has %d attempt rows (task says %d), want exactly 1", id, len(rec.Attempts), rec.Tasks[0].Attempt)
		}
	}

	// The job that kept running through the restart still finishes.
	h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: running, Attempt: 1}, Kind: engine.EventExited, Phase: engine.PhaseRun})
	if j := h.waitTerminal(running); j.Status != api.StatusSucceeded {
		t.Errorf("running job ended %s", j.Status)
	}
	if log := h.controllerLog(running); !strings.Contains(log, "controller restarted; re-attaching to attempt 1") {
		t.Errorf("controller log:\n%s", log)
	}
	if log := h.controllerLog(launching); !strings.Contains(log, "attempt 1 is unknown to the fake engine; launching it (again)") {
		t.Errorf("controller log:\n%s", log)
	}
}

var sortRefs = cmp.Transformer("sort", func(in []engine.Ref) []engine.Ref {
	out := append([]engine.Ref(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].JobID < out[i].JobID {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestRestartMidRecovery: the controller dies after a preempted attempt
// was recorded but before the next one was written; the next controller
// cleans up the old attempt and launches attempt 2 (not 1 again).
func TestRestartMidRecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	ctx := context.Background()
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	// Stop hangs, so the recovery stays before its next launch.
	h.eng.SetStopHook(func(ctx context.Context, ref engine.Ref) error {
		<-ctx.Done()
		return ctx.Err()
	})
	h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: id, Attempt: 1}, Kind: engine.EventPreempted, Node: "n1"})
	h.waitStatus(id, api.StatusRecovering)
	h.cancel()
	<-h.ctl.done

	h.eng.SetStopHook(nil)
	q := NewEventQueue()
	h.eng.SetSink(q.Sink)
	h.cfg.Events = q
	h.start()
	j := h.wait(id, "attempt 2 running", func(j api.Job) bool {
		return j.Status == api.StatusRunning && j.Tasks[0].Attempt == 2
	})
	if j.Tasks[0].Recoveries != 1 {
		t.Errorf("recoveries %d, want 1", j.Tasks[0].Recoveries)
	}
	rec, _ := h.store.Get(ctx, id)
	var states []store.AttemptState
	for _, a := range rec.Attempts {
		states = append(states, a.State)
	}
	if diff := cmp.Diff([]store.AttemptState{store.AttemptEnded, store.AttemptLaunched}, states); diff != "" {
		t.Errorf("attempt rows (-want +got):\n%s", diff)
	}
	// EAGER_NEXT_REGION survives the restart: the blocked region is stored.
	if r := h.launchesOf(id)[1].Choice.Offering.Region; r == "us-east-1" {
		t.Errorf("attempt 2 went back to the preempted region %s", r)
	}
}

// Jobs that were still waiting for a launch slot when the controller died
// are launched by the next controller without anything else happening.
func TestRestartLaunchesPendingJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.ctl.Stop() // a controller that died right after accepting the jobs
	var ids []int64
	for range 3 {
		ids = append(ids, h.submit(oneTask("waiting")))
	}
	h.start()
	for _, id := range ids {
		if j := h.waitTerminal(id); j.Status != api.StatusSucceeded {
			t.Errorf("job %d ended %s, want SUCCEEDED", id, j.Status)
		}
	}
}
