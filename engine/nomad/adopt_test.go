package nomad

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
)

// TestAdoptReplacement: Nomad replaces a preempted single-node attempt by
// itself with a linked alloc placed on a node (5a: the alloc is stopped and
// its node stays eligible; 5c-2: its node goes down and another is ready).
// The engine counts that as the recovery: Preempted carries the
// replacement, which runs as attempt 2 in the same job version and is
// reported as such, and nothing is registered or stopped.
func TestAdoptReplacement(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 11, 28, 15, 2, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lost     bool // node down with a second node ready (5c-2); else alloc stopped (5a)
		notice   bool // the spot handler left its Variable
		reason   string
		wantA1   []engine.EventKind
		replNode string
	}{
		{
			name: "stopped by the spot handler, node eligible (5a)", notice: true,
			reason:   "alloc stopped: alloc is being migrated",
			wantA1:   []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreemptionNotice, engine.EventPreempted},
			replNode: "nfx-client",
		},
		{
			name:     "stopped by an operator, node eligible (nomad alloc stop)",
			reason:   "alloc stopped: alloc is being migrated",
			wantA1:   []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreempted},
			replNode: "nfx-client",
		},
		{
			name: "node down, second node ready (5c-2)", lost: true,
			reason:   "alloc lost: node nfx-client is down",
			wantA1:   []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreempted},
			replNode: "nfx-client-2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A stopped alloc is killed when the test says so, to look at
			// the time in between.
			h := newHarness(t, harnessOpts{fake: nomadfake.Options{ManualKill: !tt.lost}})
			if tt.lost {
				h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
			}
			a1 := attempt(1, 1, "echo setup", "sleep 600", 1)
			a2 := attempt(1, 2, "echo setup", "sleep 600", 1)
			h.launch(t, a1)
			first := h.allocOf(t, a1.Ref)
			if h.fake.Alloc(first).NodeID != h.node {
				t.Fatalf("want attempt 1 on the first node")
			}
			must(t, h.fake.Run(first))
			h.rec.wait(t, a1.Ref, engine.EventRunning)

			if tt.lost {
				must(t, h.fake.NodeDown(h.node))
			} else {
				if tt.notice {
					h.fake.PutVariable(naming.PreemptionVariable(first), map[string]string{
						"node_id": h.node, "node_name": "nfx-client", "notice_time": "2026-11-28T15:00:00Z",
						"deadline": deadline.Format(time.RFC3339), "cloud": "aws", "action": "terminate",
					})
				}
				_, err := h.fake.StopAlloc(first)
				must(t, err)
			}
			repl := h.fake.Alloc(first).NextAllocation
			if repl == "" {
				t.Fatal("Nomad placed no linked replacement")
			}
			if !tt.lost {
				// The engine has seen the stop once it looked for a notice.
				eventually(t, "the notice looked up", func() bool {
					return count(h.fake.Requests(), "GET /v1/var/"+naming.PreemptionVariable(first)) > 0
				})
				// While the stopped alloc is being killed its replacement
				// cannot start, and the attempt has not ended yet.
				if err := h.fake.StartTasks(repl); err == nil {
					t.Fatal("the replacement started while the stopped alloc still ran")
				}
				if got := h.rec.kinds(a1.Ref); got[len(got)-1] == engine.EventPreempted {
					t.Errorf("Preempted before the stopped alloc ended: %v", got)
				}
				must(t, h.fake.Kill(first))
			}

			ev := h.rec.wait(t, a1.Ref, engine.EventPreempted)
			want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: tt.reason, Replacement: &a2.Ref}
			if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
				t.Errorf("preempted event (-want +got):\n%s", diff)
			}
			if tt.notice {
				n := h.rec.wait(t, a1.Ref, engine.EventPreemptionNotice)
				if !n.Deadline.Equal(deadline) {
					t.Errorf("notice deadline %v, want %v", n.Deadline, deadline)
				}
			}
			if diff := cmp.Diff(tt.wantA1, h.rec.kinds(a1.Ref)); diff != "" {
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
			// The controller may launch attempt 2 itself (after a restart it
			// finds the attempt "launching"): nothing happens.
			must(t, h.eng.Launch(t.Context(), a2))
			must(t, h.fake.Exit(repl, 0))
			h.rec.wait(t, a2.Ref, engine.EventExited)
			wantA2 := []engine.Event{
				{Ref: a2.Ref, Kind: engine.EventPlaced, Node: tt.replNode},
				{Ref: a2.Ref, Kind: engine.EventSetupStarted, Node: tt.replNode},
				{Ref: a2.Ref, Kind: engine.EventRunning, Node: tt.replNode},
				{Ref: a2.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Node: tt.replNode, Reason: "all tasks completed"},
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
			if tt.lost {
				// The killed client's processes run on until it returns,
				// which then kills them.
				if !h.fake.ProcessesAlive(first) {
					t.Errorf("attempt 1's processes should still run on the down node")
				}
				must(t, h.fake.NodeUp(h.node))
				if h.fake.ProcessesAlive(first) {
					t.Errorf("the returning client should have killed attempt 1")
				}
			} else if got := h.fake.MaxAlive("sky-1-0"); got != 1 {
				t.Errorf("%d copies of the task ran at once, want 1", got)
			}
		})
	}
}

// TestAdoptedAttemptAfterRestart: the engine adopted Nomad's replacement as
// attempt 2, then the controller and the engine restarted, and attempt 2
// finished meanwhile.
func TestAdoptedAttemptAfterRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	a1 := attempt(1, 1, "", "sleep 600", 1)
	a2 := attempt(1, 2, "", "sleep 600", 1)
	h.launch(t, a1)
	first := h.allocOf(t, a1.Ref)
	must(t, h.fake.Run(first))
	h.rec.wait(t, a1.Ref, engine.EventRunning)
	must(t, h.fake.NodeDown(h.node))
	h.rec.wait(t, a1.Ref, engine.EventPreempted)
	repl := h.fake.Alloc(first).NextAllocation
	must(t, h.fake.Run(repl))
	h.rec.wait(t, a2.Ref, engine.EventRunning)
	must(t, h.eng.Close())
	must(t, h.fake.Exit(repl, 0))

	t.Run("the controller knew of attempt 2", func(t *testing.T) {
		h.rec = newRecorder()
		eng := h.start(t, 0)
		must(t, eng.Resume(t.Context(), a2))
		ev := h.rec.wait(t, a2.Ref, engine.EventExited)
		if ev.Phase != engine.PhaseRun || ev.ExitCode != 0 || ev.Node != "nfx-client-2" {
			t.Errorf("after restart: %+v, want run exit 0 on nfx-client-2", ev)
		}
		err := eng.Resume(t.Context(), attempt(1, 3, "", "sleep 600", 1))
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Resume(attempt 3) = %v, want ErrNotFound", err)
		}
		must(t, eng.Close())
	})

	t.Run("the controller missed the adoption", func(t *testing.T) {
		h.rec = newRecorder()
		eng := h.start(t, 0)
		// Stopping attempt 1 must not touch attempt 2.
		must(t, eng.Stop(t.Context(), a1.Ref))
		if j := h.fake.Job("sky-1-0"); j.Stop != nil && *j.Stop {
			t.Fatal("Stop of attempt 1 stopped the job that runs attempt 2")
		}
		must(t, eng.Resume(t.Context(), a1))
		h.rec.wait(t, a2.Ref, engine.EventExited)
		want := []engine.Event{
			{Ref: a1.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: "alloc lost: node nfx-client is down", Replacement: &a2.Ref},
			{Ref: a2.Ref, Kind: engine.EventPlaced, Node: "nfx-client-2"},
			{Ref: a2.Ref, Kind: engine.EventRunning, Node: "nfx-client-2"},
			{Ref: a2.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Node: "nfx-client-2", Reason: "all tasks completed"},
		}
		if diff := cmp.Diff(want, h.rec.All(), ignoreTime); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		// Launching attempt 2 (its row said "launching") does nothing.
		must(t, eng.Launch(t.Context(), a2))
		if n := count(h.fake.Requests(), "PUT /v1/jobs"); n != 1 {
			t.Errorf("the job was registered %d times, want once", n)
		}
	})
}

// TestAdoptionChain: attempt 2, itself a replacement, is replaced again
// (attempt 3), which skynomad then stops; attempt 4 registers anew. Each
// attempt's logs are its own alloc's.
func TestAdoptionChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	n2 := h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-3", Class: "sky-test"})
	a := func(n int) *engine.Attempt { return attempt(1, n, "", "sleep 600", 1) }
	h.launch(t, a(1))
	allocs := []string{h.allocOf(t, a(1).Ref)}
	must(t, h.fake.Run(allocs[0]))
	must(t, h.fake.WriteLog(allocs[0], "run", "stdout", "one\n"))
	h.rec.wait(t, a(1).Ref, engine.EventRunning)

	for i, node := range []string{h.node, n2} {
		must(t, h.fake.NodeDown(node))
		ev := h.rec.wait(t, a(i+1).Ref, engine.EventPreempted)
		if ev.Replacement == nil || *ev.Replacement != a(i+2).Ref {
			t.Fatalf("attempt %d preempted with replacement %v, want attempt %d", i+1, ev.Replacement, i+2)
		}
		next := h.fake.Alloc(allocs[i]).NextAllocation
		allocs = append(allocs, next)
		must(t, h.fake.Run(next))
		must(t, h.fake.WriteLog(next, "run", "stdout", []string{"two\n", "three\n"}[i]))
		h.rec.wait(t, a(i+2).Ref, engine.EventRunning)
	}
	if got := h.fake.Variable(naming.AttemptVariable("sky-1-0")).Items; got["attempt"] != "3" || got["alloc_2"] != allocs[1] || got["alloc_3"] != allocs[2] {
		t.Errorf("adoption record %v, want attempts 2 and 3 with their allocs", got)
	}
	for i, want := range []string{"one\n", "two\n", "three\n"} {
		r, err := h.eng.Logs(t.Context(), a(i+1).Ref, engine.LogOptions{})
		must(t, err)
		b, err := io.ReadAll(r)
		r.Close()
		must(t, err)
		if string(b) != want {
			t.Errorf("logs of attempt %d: %q, want %q", i+1, b, want)
		}
	}

	// The controller cancels attempt 3, or recovers it elsewhere.
	must(t, h.eng.Stop(t.Context(), a(3).Ref))
	h.rec.wait(t, a(3).Ref, engine.EventStopped)
	if got := h.fake.Alloc(allocs[2]).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("after Stop attempt 3's alloc is %s, want complete", got)
	}
	h.launch(t, a(4))
	fourth := h.allocOf(t, a(4).Ref)
	must(t, h.fake.Run(fourth))
	h.rec.wait(t, a(4).Ref, engine.EventRunning)
	var metas []string
	for _, v := range h.fake.Versions("sky-1-0") {
		metas = append(metas, v.Meta[naming.MetaAttempt])
	}
	if diff := cmp.Diff([]string{"1", "1", "4"}, metas); diff != "" {
		t.Errorf("job versions' sky.attempt (-want +got):\n%s", diff)
	}
	if got := h.fake.MaxRunning("sky-1-0"); got != 1 {
		t.Errorf("at most %d allocs of the job ran at once, want 1", got)
	}
}

// TestMultiNodeNeverAdopts: one node of a two-node attempt is lost and
// Nomad places a linked replacement on a third node. It cannot rejoin peers
// that started together: the engine stops the whole job and reports
// Preempted without a replacement.
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
