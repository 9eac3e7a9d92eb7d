package nomad

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
)

// Faults a real Nomad agent on one machine cannot be made to show without
// disturbing the other tests that share the `make test` cluster, or
// without a second cluster: a client node going down, a blocked eval
// because no node fits, the event stream dropping with events already out
// of Nomad's buffer. These run on nomadfake, which replays what Nomad
// 1.6.1 did in the recordings (see its package doc); everything else the
// engine does is tested on the real agent (real_*_test.go).

// TestLostAllocNotReplaced: the only node of a running attempt goes down
// (5c). Nomad can place no replacement and leaves a blocked eval, which
// would place an unlinked alloc once the node returns. The engine stops
// the job so that never happens, reports Preempted without a replacement,
// and attempt 2 registers anew. Never two copies at once. (A down client
// and no other node that fits: not on the shared cluster.)
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
// reports Preempted, without a replacement, once the alloc ended. (Every
// node ineligible: not on the shared cluster.)
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

// TestStreamDropAndReplay: the event stream drops while the attempt moves
// on, with older events already out of Nomad's small buffer. The engine
// reconnects from its cursor (inclusive replay) and lists the allocs: it
// reports every step once. (The real agent's stream cannot be cut, nor
// this job's events pushed out of its buffer, on demand.)
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

// TestAdoptReplacementOfLostAlloc: the node of a running single-node
// attempt goes down while a second node is ready (5c-2): Nomad marks the
// alloc lost and places a linked replacement on the other node by itself.
// The engine adopts it as attempt 2, as it adopts the replacement of a
// stopped alloc (TestRealAdoptStoppedAlloc): Preempted carries the
// replacement, which runs as attempt 2 in the same job version, and
// nothing is registered or stopped. The lost alloc's processes run on
// until its client returns and kills them.
func TestAdoptReplacementOfLostAlloc(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	a1 := attempt(1, 1, "echo setup", "sleep 600", 1)
	a2 := attempt(1, 2, "echo setup", "sleep 600", 1)
	h.launch(t, a1)
	first := h.allocOf(t, a1.Ref)
	if h.fake.Alloc(first).NodeID != h.node {
		t.Fatalf("want attempt 1 on the first node")
	}
	must(t, h.fake.Run(first))
	h.rec.wait(t, a1.Ref, engine.EventRunning)

	must(t, h.fake.NodeDown(h.node))
	repl := h.fake.Alloc(first).NextAllocation
	if repl == "" {
		t.Fatal("Nomad placed no linked replacement")
	}
	ev := h.rec.wait(t, a1.Ref, engine.EventPreempted)
	want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: "alloc lost: node nfx-client is down", Replacement: &a2.Ref}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("preempted event (-want +got):\n%s", diff)
	}
	wantA1 := []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreempted}
	if diff := cmp.Diff(wantA1, h.rec.kinds(a1.Ref)); diff != "" {
		t.Errorf("attempt 1 events (-want +got):\n%s", diff)
	}
	rec := h.fake.Variable(naming.AttemptVariable("sky-1-0"))
	if rec == nil {
		t.Fatal("the adoption was not recorded")
	}
	if diff := cmp.Diff(map[string]string{"registered": "1", "attempt": "2", "alloc": repl}, map[string]string{
		"registered": rec.Items["registered"], "attempt": rec.Items["attempt"], "alloc": rec.Items["alloc"],
	}); diff != "" {
		t.Errorf("adoption record (-want +got):\n%s", diff)
	}

	must(t, h.fake.Run(repl))
	h.rec.wait(t, a2.Ref, engine.EventRunning)
	// The controller may launch attempt 2 itself (after a restart it finds
	// the attempt "launching"): nothing happens.
	must(t, h.eng.Launch(t.Context(), a2))
	must(t, h.fake.Exit(repl, 0))
	h.rec.wait(t, a2.Ref, engine.EventExited)
	wantA2 := []engine.Event{
		{Ref: a2.Ref, Kind: engine.EventPlaced, Node: "nfx-client-2"},
		{Ref: a2.Ref, Kind: engine.EventSetupStarted, Node: "nfx-client-2"},
		{Ref: a2.Ref, Kind: engine.EventRunning, Node: "nfx-client-2"},
		{Ref: a2.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Node: "nfx-client-2", Reason: "all tasks completed"},
	}
	if diff := cmp.Diff(wantA2, h.rec.of(a2.Ref), ignoreTime); diff != "" {
		t.Errorf("attempt 2 events (-want +got):\n%s", diff)
	}

	reqs := h.fake.Requests()
	if n := count(reqs, "PUT /v1/jobs"); n != 1 {
		t.Errorf("the job was registered %d times, want once (attempt 2 is Nomad's replacement)", n)
	}
	if n := count(reqs, "DELETE /v1/job/"); n != 0 {
		t.Errorf("the engine stopped the job %d times, want never", n)
	}
	if got := h.fake.MaxRunning("sky-1-0"); got != 1 {
		t.Errorf("at most %d allocs of the job ran at once, want 1", got)
	}
	// The killed client's processes run on until it returns, which then
	// kills them.
	if !h.fake.ProcessesAlive(first) {
		t.Errorf("attempt 1's processes should still run on the down node")
	}
	must(t, h.fake.NodeUp(h.node))
	if h.fake.ProcessesAlive(first) {
		t.Errorf("the returning client should have killed attempt 1")
	}
}

// TestMultiNodeNeverAdopts: one node of a two-node attempt is lost and
// Nomad places a linked replacement on a third node. It cannot rejoin peers
// that started together: the engine stops the whole job and reports
// Preempted without a replacement. (A down client, and a third node:
// not on the shared cluster of two.)
func TestMultiNodeNeverAdopts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	a := attempt(1, 1, "", "train", 2)
	h.launch(t, a)
	allocs := h.allocsOf(t, a.Ref, 2)
	for _, al := range allocs {
		must(t, h.fake.Run(al.ID))
	}
	h.rec.wait(t, a.Ref, engine.EventRunning)
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-3", Class: "sky-test"})
	lost := allocs[0]
	must(t, h.fake.NodeDown(lost.NodeID))
	ev := h.rec.wait(t, a.Ref, engine.EventPreempted)
	if ev.Replacement != nil || ev.Node != lost.NodeName {
		t.Errorf("preempted %+v, want node %s and no replacement", ev, lost.NodeName)
	}
	repl := h.fake.Alloc(lost.ID).NextAllocation
	if repl == "" {
		t.Fatal("Nomad placed no linked replacement")
	}
	h.fake.StartPending()
	if h.fake.EverStarted(repl) {
		t.Errorf("Nomad's replacement %s ran", repl)
	}
	if got := h.fake.Alloc(allocs[1].ID).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("the healthy node's alloc is %s, want complete", got)
	}
	if v := h.fake.Variable(naming.AttemptVariable("sky-1-0")); v != nil {
		t.Errorf("an adoption was recorded: %v", v.Items)
	}
}
