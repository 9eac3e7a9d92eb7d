package nomad

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
)

// ignoreTime drops what the fake clock or Nomad's node names decide.
var ignoreTime = cmpopts.IgnoreFields(engine.Event{}, "Time")

func TestAttemptOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup string
		play  func(t *testing.T, h *harness, alloc string)
		want  []engine.Event
	}{
		{
			name: "run exits 0", setup: "echo setup",
			play: func(t *testing.T, h *harness, alloc string) {
				must(t, h.fake.Run(alloc))
				must(t, h.fake.Exit(alloc, 0))
			},
			want: []engine.Event{
				{Kind: engine.EventPlaced, Node: "nfx-client"},
				{Kind: engine.EventSetupStarted, Node: "nfx-client"},
				{Kind: engine.EventRunning, Node: "nfx-client"},
				{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 0, Node: "nfx-client", Reason: "all tasks completed"},
			},
		},
		{
			name: "run exits 7 (scenario 3)",
			play: func(t *testing.T, h *harness, alloc string) {
				must(t, h.fake.Run(alloc))
				must(t, h.fake.Exit(alloc, 7))
			},
			want: []engine.Event{
				{Kind: engine.EventPlaced, Node: "nfx-client"},
				{Kind: engine.EventRunning, Node: "nfx-client"},
				{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 7, Node: "nfx-client", Reason: "run exited with code 7 on nfx-client"},
			},
		},
		{
			name: "setup exits 3 (scenario 4)", setup: "exit 3",
			play: func(t *testing.T, h *harness, alloc string) {
				must(t, h.fake.FailSetup(alloc, 3))
			},
			want: []engine.Event{
				{Kind: engine.EventPlaced, Node: "nfx-client"},
				{Kind: engine.EventSetupStarted, Node: "nfx-client"},
				{Kind: engine.EventExited, Phase: engine.PhaseSetup, ExitCode: 3, Node: "nfx-client", Reason: "setup exited with code 3 on nfx-client"},
			},
		},
		{
			name: "operator stops the job (scenario 6)",
			play: func(t *testing.T, h *harness, alloc string) {
				must(t, h.fake.Run(alloc))
				_, _, err := h.client.Jobs().Deregister("sky-1-0", false, nil)
				must(t, err)
			},
			want: []engine.Event{
				{Kind: engine.EventPlaced, Node: "nfx-client"},
				{Kind: engine.EventRunning, Node: "nfx-client"},
				{Kind: engine.EventOperatorStopped, Node: "nfx-client", Reason: "Nomad job sky-1-0 was stopped outside skynomad"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOpts{})
			a := attempt(1, 1, tt.setup, "echo hi", 1)
			h.launch(t, a)
			tt.play(t, h, h.allocOf(t, a.Ref))
			last := tt.want[len(tt.want)-1]
			h.rec.wait(t, a.Ref, last.Kind)
			for i := range tt.want {
				tt.want[i].Ref = a.Ref
			}
			if diff := cmp.Diff(tt.want, h.rec.of(a.Ref), ignoreTime); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLostAllocNotReplaced: the only node of a running attempt goes down
// (5c). Nomad can place no replacement and leaves a blocked eval, which
// would place an unlinked alloc once the node returns. The engine stops
// the job so that never happens, reports Preempted without a replacement,
// and attempt 2 registers anew. Never two copies at once.
func TestLostAllocNotReplaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a1 := attempt(1, 1, "", "sleep 600", 1)
	h.launch(t, a1)
	first := h.allocOf(t, a1.Ref)
	must(t, h.fake.Run(first))
	h.rec.wait(t, a1.Ref, engine.EventRunning)

	must(t, h.fake.NodeDown(h.node))
	ev := h.rec.wait(t, a1.Ref, engine.EventPreempted)
	want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: "alloc lost: node nfx-client is down"}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("preempted event (-want +got):\n%s", diff)
	}
	if j := h.fake.Job("sky-1-0"); j.Stop == nil || !*j.Stop {
		t.Errorf("the job should be stopped so the blocked eval places nothing")
	}

	a2 := attempt(1, 2, "", "sleep 600", 1)
	h.launch(t, a2)
	// Nothing fits until the node returns; then attempt 2 is placed, and
	// only it: the blocked eval of attempt 1 was cancelled.
	must(t, h.fake.NodeUp(h.node))
	second := h.allocOf(t, a2.Ref)
	for _, al := range h.fake.Allocs("sky-1-0") {
		if al.ID != first && al.ID != second {
			t.Errorf("an alloc other than the two attempts' was placed: %s (attempt %s)", al.ID, al.Job.Meta[naming.MetaAttempt])
		}
	}
	must(t, h.fake.Run(second))
	h.rec.wait(t, a2.Ref, engine.EventRunning)
	if h.fake.ProcessesAlive(first) {
		t.Errorf("the returning client should have killed attempt 1")
	}
	if got := h.fake.MaxRunning("sky-1-0"); got != 1 {
		t.Errorf("at most %d allocs of the job ran at once, want 1", got)
	}
	if diff := cmp.Diff([]engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventPreempted}, h.rec.kinds(a1.Ref)); diff != "" {
		t.Errorf("attempt 1 events (-want +got):\n%s", diff)
	}
}

// TestAllocStoppedNotReplaced: the spot handler marks the only node
// ineligible and stops the alloc (5b): Nomad places no replacement. The
// engine stops the job (the blocked eval must never place one later) and
// reports Preempted, without a replacement, once the alloc ended.
func TestAllocStoppedNotReplaced(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 11, 28, 15, 2, 0, 0, time.UTC)
	h := newHarness(t, harnessOpts{fake: nomadfake.Options{ManualKill: true}})
	a1 := attempt(1, 1, "", "sleep 600", 1)
	h.launch(t, a1)
	first := h.allocOf(t, a1.Ref)
	must(t, h.fake.Run(first))
	h.rec.wait(t, a1.Ref, engine.EventRunning)

	must(t, h.fake.SetEligibility(h.node, false))
	h.fake.PutVariable(naming.PreemptionVariable(first), map[string]string{
		"node_id": h.node, "node_name": "nfx-client", "notice_time": "2026-11-28T15:00:00Z",
		"deadline": deadline.Format(time.RFC3339), "cloud": "aws", "action": "terminate",
	})
	_, err := h.fake.StopAlloc(first)
	must(t, err)
	ev := h.rec.wait(t, a1.Ref, engine.EventPreemptionNotice)
	want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreemptionNotice, Node: "nfx-client", Deadline: deadline,
		Reason: "preemption notice at 2026-11-28T15:00:00Z, deadline 2026-11-28T15:02:00Z, node nfx-client"}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("notice (-want +got):\n%s", diff)
	}
	// The old alloc is still shutting down: no Preempted yet.
	eventually(t, "the job stopped by the engine", func() bool {
		j := h.fake.Job("sky-1-0")
		return j.Stop != nil && *j.Stop
	})
	if got := h.rec.kinds(a1.Ref); got[len(got)-1] == engine.EventPreempted {
		t.Errorf("Preempted before the stopped alloc ended")
	}
	must(t, h.fake.Kill(first))
	ev = h.rec.wait(t, a1.Ref, engine.EventPreempted)
	want = engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: "alloc stopped: alloc is being migrated"}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("preempted event (-want +got):\n%s", diff)
	}
	wantKinds := []engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventPreemptionNotice, engine.EventPreempted}
	if diff := cmp.Diff(wantKinds, h.rec.kinds(a1.Ref)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// The controller relaunches; the only node stays ineligible: not placed
	// in time, and never placed later.
	a2 := attempt(1, 2, "", "sleep 600", 1)
	h.launch(t, a2)
	h.clock.Advance(2 * time.Minute)
	h.rec.wait(t, a2.Ref, engine.EventNoCapacity)
	must(t, h.fake.SetEligibility(h.node, true))
	if n := len(h.fake.Allocs("sky-1-0")); n != 1 {
		t.Errorf("the job has %d allocs, want only attempt 1's", n)
	}
}

// TestTaskEndsOnSpotSIGTERM: the spot handler records the preemption and
// SIGTERMs the task, which checkpoints and exits on its own (the runner
// exits 143, or 0) before the handler stops the alloc. Whatever the exit
// code, the attempt was preempted: never a user failure, never a success.
func TestTaskEndsOnSpotSIGTERM(t *testing.T) {
	t.Parallel()
	for _, code := range []int{143, 0} {
		t.Run(fmt.Sprintf("exit %d", code), func(t *testing.T) {
			t.Parallel()
			deadline := time.Date(2026, 11, 28, 15, 2, 0, 0, time.UTC)
			h := newHarness(t, harnessOpts{})
			a1 := attempt(1, 1, "", "sleep 600", 1)
			h.launch(t, a1)
			first := h.allocOf(t, a1.Ref)
			must(t, h.fake.Run(first))
			h.rec.wait(t, a1.Ref, engine.EventRunning)

			must(t, h.fake.SetEligibility(h.node, false))
			h.fake.PutVariable(naming.PreemptionVariable(first), map[string]string{
				"node_id": h.node, "node_name": "nfx-client", "notice_time": "2026-11-28T15:00:00Z",
				"deadline": deadline.Format(time.RFC3339), "cloud": "aws", "action": "terminate",
			})
			must(t, h.fake.Exit(first, code))
			ev := h.rec.wait(t, a1.Ref, engine.EventPreempted)
			ending := "run exited with code 143 on nfx-client"
			if code == 0 {
				ending = "completed on nfx-client"
			}
			want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client",
				Reason: "alloc ended after a preemption notice: " + ending}
			if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
				t.Errorf("preempted event (-want +got):\n%s", diff)
			}
			wantKinds := []engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventPreemptionNotice, engine.EventPreempted}
			if diff := cmp.Diff(wantKinds, h.rec.kinds(a1.Ref)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}

			// The next attempt runs elsewhere once a node is eligible.
			must(t, h.fake.SetEligibility(h.node, true))
			a2 := attempt(1, 2, "", "sleep 600", 1)
			h.launch(t, a2)
			must(t, h.fake.Run(h.allocOf(t, a2.Ref)))
			h.rec.wait(t, a2.Ref, engine.EventRunning)
		})
	}
}

// An attempt that fails or succeeds with no preemption record is the
// task's own doing.
func TestExitWithoutRecordIsTheTasks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a1 := attempt(1, 1, "", "exit 143", 1)
	h.launch(t, a1)
	first := h.allocOf(t, a1.Ref)
	must(t, h.fake.Run(first))
	must(t, h.fake.Exit(first, 143))
	ev := h.rec.wait(t, a1.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 143 {
		t.Errorf("exited %+v, want run 143", ev)
	}
	if got := h.rec.kinds(a1.Ref); slices.Contains(got, engine.EventPreempted) {
		t.Errorf("events %v: preempted without a record", got)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a := attempt(1, 1, "", "sleep 600", 1)
	h.launch(t, a)
	alloc := h.allocOf(t, a.Ref)
	must(t, h.fake.Run(alloc))
	h.rec.wait(t, a.Ref, engine.EventRunning)
	must(t, h.eng.Stop(t.Context(), a.Ref))
	if got := h.fake.Alloc(alloc).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("after Stop the alloc is %s, want complete", got)
	}
	h.rec.wait(t, a.Ref, engine.EventStopped)
	if diff := cmp.Diff([]engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventStopped}, h.rec.kinds(a.Ref)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if j := h.fake.Job("sky-1-0"); j == nil || !*j.Stop {
		t.Errorf("the job should be stopped, not purged: %v", j)
	}
	// Stopping again, or an attempt that never ran, is not an error.
	must(t, h.eng.Stop(t.Context(), a.Ref))
	must(t, h.eng.Stop(t.Context(), engine.Ref{JobID: 9, Attempt: 1}))
}

func TestReRegistrationPerAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a1 := attempt(1, 1, "", "echo one", 1)
	h.launch(t, a1)
	h.launch(t, a1) // same attempt again: nothing
	// A restarted controller launching the same attempt: nothing either.
	other := h.start(t, 0)
	must(t, other.Launch(t.Context(), a1))
	if n := count(h.fake.Requests(), "PUT /v1/jobs"); n != 1 {
		t.Errorf("attempt 1 registered %d times, want 1", n)
	}
	first := h.allocOf(t, a1.Ref)
	must(t, h.fake.Run(first))
	must(t, h.fake.Exit(first, 5))
	h.rec.wait(t, a1.Ref, engine.EventExited)

	a2 := attempt(1, 2, "", "echo one", 1)
	h.launch(t, a2)
	var metas []string
	for _, v := range h.fake.Versions("sky-1-0") {
		metas = append(metas, v.Meta[naming.MetaAttempt])
	}
	if diff := cmp.Diff([]string{"1", "2"}, metas); diff != "" {
		t.Errorf("job versions' sky.attempt (-want +got):\n%s", diff)
	}
	second := h.allocOf(t, a2.Ref)
	if second == first {
		t.Fatal("attempt 2 reuses attempt 1's alloc")
	}
	must(t, h.fake.Run(second))
	must(t, h.fake.Exit(second, 0))
	ev := h.rec.wait(t, a2.Ref, engine.EventExited)
	if ev.ExitCode != 0 {
		t.Errorf("attempt 2 exit code %d: attempt 1's failure leaked into it", ev.ExitCode)
	}
	// A stale attempt is refused.
	if err := h.eng.Launch(t.Context(), a1); err == nil {
		t.Errorf("launching attempt 1 after attempt 2 should fail")
	}
}

// TestStreamDropAndReplay: the event stream drops while the attempt moves
// on, with older events already out of Nomad's small buffer. The engine
// reconnects from its cursor (inclusive replay) and lists the allocs: it
// reports every step once.
func TestStreamDropAndReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{fake: nomadfake.Options{BufferSize: 2}, reconnectDelay: 200 * time.Millisecond})
	a := attempt(1, 1, "echo setup", "echo hi", 1)
	h.launch(t, a)
	alloc := h.allocOf(t, a.Ref)
	h.rec.wait(t, a.Ref, engine.EventPlaced)
	eventually(t, "the stream open", func() bool { return h.fake.Streams() == 1 })

	h.fake.DropEventStreams()
	must(t, h.fake.Run(alloc))
	must(t, h.fake.Exit(alloc, 0))
	// Push the alloc's frames out of the 2-frame buffer: only a listing
	// after the reconnect can tell the engine how the attempt ended.
	for _, n := range []string{"n2", "n3", "n4"} {
		h.fake.AddNode(nomadfake.NodeSpec{Name: n})
	}
	h.rec.wait(t, a.Ref, engine.EventExited)

	// Once more with nothing new: the replayed last frame is not handled
	// again.
	eventually(t, "the stream reopened", func() bool { return h.fake.Streams() == 1 })
	h.fake.DropEventStreams()
	eventually(t, "the stream reopened again", func() bool { return h.fake.Streams() == 1 })
	want := []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventExited}
	if diff := cmp.Diff(want, h.rec.kinds(a.Ref)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if n := count(h.fake.Requests(), "GET /v1/event/stream"); n < 3 {
		t.Errorf("event stream opened %d times, want 3", n)
	}
	saved, _ := h.cursor.Load()
	if saved == 0 || saved > h.fake.Index() {
		t.Errorf("cursor %d, want a handled index <= %d", saved, h.fake.Index())
	}
}

func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a := attempt(1, 1, "", "sleep 1", 1)
	h.launch(t, a)
	alloc := h.allocOf(t, a.Ref)
	must(t, h.fake.Run(alloc))
	h.rec.wait(t, a.Ref, engine.EventRunning)
	must(t, h.eng.Close())
	saved, _ := h.cursor.Load()
	if saved == 0 {
		t.Fatal("the engine saved no event index")
	}

	// While the controller is down the attempt fails.
	must(t, h.fake.Exit(alloc, 7))
	h.rec = newRecorder()
	restarted := h.start(t, 0)
	must(t, restarted.Resume(t.Context(), a))
	eventually(t, "the stream reopened from the saved index", func() bool {
		return count(h.fake.Requests(), "GET /v1/event/stream?index="+strconv.FormatUint(saved, 10)+"&") == 1
	})
	ev := h.rec.wait(t, a.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 7 {
		t.Errorf("after restart: %+v, want run exit 7", ev)
	}

	for _, ref := range []engine.Ref{{JobID: 1, Attempt: 2}, {JobID: 2, Attempt: 1}} {
		err := restarted.Resume(t.Context(), &engine.Attempt{Ref: ref})
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Resume(%v) = %v, want ErrNotFound", ref, err)
		}
	}
}

// TestResumeTellsOwnStopFromOperators: after a restart a stopped job is
// Stopped if skynomad stopped it, OperatorStopped otherwise.
func TestResumeTellsOwnStopFromOperators(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{true, false} {
		t.Run(map[bool]string{true: "own stop", false: "operator stop"}[own], func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOpts{})
			a := attempt(1, 1, "", "sleep 600", 1)
			h.launch(t, a)
			must(t, h.fake.Run(h.allocOf(t, a.Ref)))
			h.rec.wait(t, a.Ref, engine.EventRunning)
			if own {
				must(t, h.eng.Stop(t.Context(), a.Ref))
			}
			must(t, h.eng.Close())
			if !own {
				must(t, h.fake.StopJob("sky-1-0", false))
			}
			h.rec = newRecorder()
			restarted := h.start(t, 0)
			must(t, restarted.Resume(t.Context(), a))
			want := engine.EventOperatorStopped
			if own {
				want = engine.EventStopped
			}
			h.rec.wait(t, a.Ref, want)
		})
	}
}

func TestMultiNodeFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	a := attempt(1, 1, "", "train", 2)
	h.launch(t, a)
	allocs := h.allocsOf(t, a.Ref, 2)
	for _, al := range allocs {
		must(t, h.fake.Run(al.ID))
	}
	placed := h.rec.wait(t, a.Ref, engine.EventPlaced)
	h.rec.wait(t, a.Ref, engine.EventRunning)
	must(t, h.fake.Exit(allocs[1].ID, 7))
	ev := h.rec.wait(t, a.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 7 {
		t.Errorf("exit %+v, want run 7", ev)
	}
	if got := h.fake.Alloc(allocs[0].ID).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("the healthy node's alloc is %s; the engine should have stopped it", got)
	}
	if strings.Count(placed.Node, ",") != 1 {
		t.Errorf("placed on %q, want two nodes", placed.Node)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a := attempt(1, 1, "echo setup", "echo run", 1)
	h.launch(t, a)
	alloc := h.allocOf(t, a.Ref)
	must(t, h.fake.StartTasks(alloc))
	must(t, h.fake.WriteLog(alloc, "setup", "stdout", "(setup pid=1) installing\n"))
	must(t, h.fake.WriteLog(alloc, "setup", "stderr", "(setup pid=1) warning\n"))
	must(t, h.fake.ExitTask(alloc, "setup", 0))
	must(t, h.fake.WriteLog(alloc, "run", "stdout", "(task, pid=2) step 1\n"))

	read := func(opts engine.LogOptions) string {
		t.Helper()
		r, err := h.eng.Logs(t.Context(), a.Ref, opts)
		must(t, err)
		defer r.Close()
		b, err := io.ReadAll(r)
		must(t, err)
		return string(b)
	}
	want := "(setup pid=1) installing\n(setup pid=1) warning\n(task, pid=2) step 1\n"
	if got := read(engine.LogOptions{}); got != want {
		t.Errorf("logs:\n%s\nwant:\n%s", got, want)
	}
	if got := read(engine.LogOptions{Tail: 1}); got != "(task, pid=2) step 1\n" {
		t.Errorf("tail 1: %q", got)
	}

	// Follow: what exists, then new lines, until the task ends.
	r, err := h.eng.Logs(t.Context(), a.Ref, engine.LogOptions{Follow: true, Tail: 1})
	must(t, err)
	defer r.Close()
	buf := make([]byte, len("(task, pid=2) step 1\n"))
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "(task, pid=2) step 1\n" {
		t.Fatalf("follow starts with %q, %v", buf, err)
	}
	must(t, h.fake.WriteLog(alloc, "run", "stdout", "(task, pid=2) step 2\n"))
	must(t, h.fake.Exit(alloc, 0))
	rest, err := io.ReadAll(r)
	must(t, err)
	if string(rest) != "(task, pid=2) step 2\n" {
		t.Errorf("followed %q", rest)
	}
}

func TestLogsOfFailedSetup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a := attempt(1, 1, "exit 3", "echo run", 1)
	h.launch(t, a)
	alloc := h.allocOf(t, a.Ref)
	must(t, h.fake.StartTasks(alloc))
	must(t, h.fake.WriteLog(alloc, "setup", "stderr", "setup broke\n"))
	must(t, h.fake.ExitTask(alloc, "setup", 3))
	for _, follow := range []bool{false, true} {
		r, err := h.eng.Logs(t.Context(), a.Ref, engine.LogOptions{Follow: follow})
		must(t, err)
		b, err := io.ReadAll(r)
		r.Close()
		// The run task never started: its logs are a 404, not an error.
		if err != nil || string(b) != "setup broke\n" {
			t.Errorf("follow=%v: %q, %v", follow, b, err)
		}
	}
}

// TestListingOvertakenByLaunch: a re-listing that read the job before
// Launch registered it, and is applied after (an event stream connecting
// while an attempt launches re-lists every watch), must not take the job
// for purged: the attempt runs on and ends as it does, never
// OperatorStopped. Found by the conformance suite on the real agent.
func TestListingOvertakenByLaunch(t *testing.T) {
	t.Parallel()
	read, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	h := newHarness(t, harnessOpts{wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			held := false
			if r.Method == http.MethodGet && r.URL.Path == "/v1/job/sky-1-0" {
				first.Do(func() { held = true })
			}
			if !held {
				next.ServeHTTP(w, r)
				return
			}
			// Nomad answers now (the job is not registered yet); the answer
			// reaches the engine once the test lets it.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			close(read)
			<-release
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}})
	a := attempt(1, 1, "", "echo hi", 1)
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		h.eng.refresh(context.Background(), JobID(a.Ref))
	}()
	<-read
	h.launch(t, a)
	close(release)
	<-listed

	alloc := h.allocOf(t, a.Ref)
	must(t, h.fake.Run(alloc))
	must(t, h.fake.Exit(alloc, 0))
	if ev := h.rec.wait(t, a.Ref, engine.EventExited); ev.ExitCode != 0 {
		t.Errorf("exited %+v, want code 0", ev)
	}
	if kinds := h.rec.kinds(a.Ref); slices.Contains(kinds, engine.EventOperatorStopped) {
		t.Errorf("events %v: the stale listing ended the attempt as stopped by an operator", kinds)
	}
}
