package nomad

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
)

func recorded(t *testing.T, name string) *api.Allocation {
	t.Helper()
	b, err := nomadfake.Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	var a api.Allocation
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// TestDecideOnRecordedAllocs classifies allocs exactly as Nomad 1.6.1
// served them.
func TestDecideOnRecordedAllocs(t *testing.T) {
	t.Parallel()
	ref := engine.Ref{JobID: 1, Attempt: 1}
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	ev := func(kind engine.EventKind, phase engine.Phase, code int, reason string) engine.Event {
		return engine.Event{Ref: ref, Kind: kind, Time: now, Phase: phase, ExitCode: code, Node: "nfx-client", Reason: reason}
	}
	// A spot handler's record (skynomad/preemptions/<alloc>) and the
	// notice event it becomes.
	notice0 := now.Add(-30 * time.Second)
	spotNotice := &notice{NodeName: "nfx-client", Cloud: "aws", Action: "terminate", NoticeTime: notice0, Deadline: notice0.Add(2 * time.Minute)}
	noticeEv := engine.Event{Ref: ref, Kind: engine.EventPreemptionNotice, Time: now, Node: "nfx-client", Deadline: spotNotice.Deadline,
		Reason: "preemption notice at 2026-11-28T15:59:30Z, deadline 2026-11-28T16:01:30Z, node nfx-client"}
	// The recorded allocs' IDs.
	const (
		ok2    = "9c79dff6-1c0e-8e2e-0fe6-5510f186c99a"
		exit7  = "9421bff8-5954-4711-846c-9bb66ceb92e1"
		setup3 = "96f77a1e-de0e-198b-f57b-66674dc700d5"
	)
	placed := ev(engine.EventPlaced, "", 0, "")
	running := ev(engine.EventRunning, "", 0, "")
	tests := []struct {
		name    string
		allocs  []string
		count   int // nodes; 1 if 0
		prepare func(w *watch)
		want    []engine.Event
		act     action
	}{
		{
			name: "2 complete: look for a preemption record first", allocs: []string{"02-alloc-ok.complete.json"},
			want: []engine.Event{placed, running},
			act:  action{lookupNotice: ok2},
		},
		{
			name: "2 complete", allocs: []string{"02-alloc-ok.complete.json"},
			prepare: func(w *watch) { w.notices[ok2] = nil },
			want:    []engine.Event{placed, running, ev(engine.EventExited, engine.PhaseRun, 0, "all tasks completed")},
		},
		{
			name: "2 complete after a spot notice: preempted, not succeeded", allocs: []string{"02-alloc-ok.complete.json"},
			prepare: func(w *watch) {
				w.notices[ok2] = spotNotice
				w.deregistered = true
			},
			want: []engine.Event{placed, running, noticeEv,
				ev(engine.EventPreempted, "", 0, "alloc ended after a preemption notice: completed on nfx-client")},
		},
		{
			name: "2b running", allocs: []string{"02b-alloc-ok-slow.running.json"},
			want: []engine.Event{placed, running},
		},
		{
			name: "2b pending, within the placement timeout", allocs: []string{"02b-alloc-ok-slow.pending.json"},
			prepare: func(w *watch) { w.launched = now.Add(-time.Minute) },
			want:    []engine.Event{placed},
		},
		{
			name: "2b pending past the placement timeout", allocs: []string{"02b-alloc-ok-slow.pending.json"},
			prepare: func(w *watch) { w.launched = now.Add(-time.Hour) },
			want:    []engine.Event{placed},
			act:     action{deregister: stopNoCapacity},
		},
		{
			name: "unplaced, capacity not read lately: read it",
			prepare: func(w *watch) {
				w.launched, w.class, w.capacityEvery = now.Add(-time.Minute), "sky-aws-us-east-1-m6i.large-spot", 5*time.Second
			},
			act: action{lookupCapacity: true},
		},
		{
			name: "unplaced, capacity read just now: wait",
			prepare: func(w *watch) {
				w.launched, w.class, w.capacityEvery = now.Add(-time.Minute), "sky-aws-us-east-1-m6i.large-spot", 5*time.Second
				w.capacityRead = now.Add(-time.Second)
			},
		},
		{
			name:   "pending on a node: capacity is not asked",
			allocs: []string{"02b-alloc-ok-slow.pending.json"},
			prepare: func(w *watch) {
				w.launched, w.class, w.capacityEvery = now.Add(-time.Minute), "sky-aws-us-east-1-m6i.large-spot", 5*time.Second
			},
			want: []engine.Event{placed},
		},
		{
			name: "unplaced and the cloud refused: stop the job",
			prepare: func(w *watch) {
				w.launched, w.class, w.refusal = now.Add(-time.Minute), "sky-aws-us-east-1-m6i.large-spot", "aws refused capacity"
			},
			act: action{deregister: stopNoCapacity},
		},
		{
			name: "stopped after the cloud refused: NoCapacity with the cloud's reason",
			prepare: func(w *watch) {
				w.launched, w.refusal, w.noCapacity, w.deregistered, w.selfStop =
					now.Add(-time.Minute), "aws refused capacity (stockout): InsufficientInstanceCapacity in us-east-1a: none", true, true, stopNoCapacity
			},
			want: []engine.Event{{Ref: ref, Kind: engine.EventNoCapacity, Time: now,
				Reason: "aws refused capacity (stockout): InsufficientInstanceCapacity in us-east-1a: none"}},
		},
		{
			name: "3 exit 7", allocs: []string{"03-alloc-exit7.failed.json"},
			prepare: func(w *watch) { w.notices[exit7] = nil },
			want:    []engine.Event{placed, running, ev(engine.EventExited, engine.PhaseRun, 7, "run exited with code 7 on nfx-client")},
		},
		{
			name:    "3 exit 7 after a spot notice: stop the job, it was preempted",
			allocs:  []string{"03-alloc-exit7.failed.json"},
			prepare: func(w *watch) { w.notices[exit7] = spotNotice },
			want:    []engine.Event{placed, running, noticeEv},
			act:     action{deregister: stopPreempted},
		},
		{
			name:   "3 exit 7 after a spot notice, job stopped: preempted, never failed",
			allocs: []string{"03-alloc-exit7.failed.json"},
			prepare: func(w *watch) {
				w.notices[exit7] = spotNotice
				w.deregistered = true
			},
			want: []engine.Event{placed, running, noticeEv,
				ev(engine.EventPreempted, "", 0, "alloc ended after a preemption notice: run exited with code 7 on nfx-client")},
		},
		{
			name: "4 setup exit 3", allocs: []string{"04-alloc-setup-fail.failed.json"},
			prepare: func(w *watch) { w.notices[setup3] = nil },
			want: []engine.Event{placed, ev(engine.EventSetupStarted, "", 0, ""),
				ev(engine.EventExited, engine.PhaseSetup, 3, "setup exited with code 3 on nfx-client")},
		},
		{
			name:   "5a stopped, still running: look for a notice first",
			allocs: []string{"05a-alloc-long-stop.after-stop-0s.json", "05a-alloc-long-stop.replacement.json"},
			want:   []engine.Event{placed, running},
			act:    action{lookupNotice: "f089c5b9-70ef-14ed-b1e1-0e0cddf62952"},
		},
		{
			name:    "5a stopped, still being killed: wait, Nomad holds the replacement until then",
			allocs:  []string{"05a-alloc-long-stop.after-stop-0s.json", "05a-alloc-long-stop.replacement.json"},
			prepare: func(w *watch) { w.notices["f089c5b9-70ef-14ed-b1e1-0e0cddf62952"] = nil },
			want:    []engine.Event{placed, running},
		},
		{
			name:    "5a stopped and ended: adopt the linked replacement",
			allocs:  []string{"05a-alloc-long-stop.after-stop-10s.json", "05a-alloc-long-stop.replacement.json"},
			prepare: func(w *watch) { w.notices["f089c5b9-70ef-14ed-b1e1-0e0cddf62952"] = nil },
			want:    []engine.Event{placed, running},
			act:     action{adopt: "48097ee3-bacc-7dfe-62d2-b7e388f3cdd0"},
		},
		{
			name:   "5a adoption recorded: preempted, replaced by attempt 2",
			allocs: []string{"05a-alloc-long-stop.after-stop-10s.json", "05a-alloc-long-stop.replacement.json"},
			prepare: func(w *watch) {
				w.notices["f089c5b9-70ef-14ed-b1e1-0e0cddf62952"] = nil
				w.recorded = "48097ee3-bacc-7dfe-62d2-b7e388f3cdd0"
			},
			want: []engine.Event{placed, running, {Ref: ref, Kind: engine.EventPreempted, Time: now, Node: "nfx-client",
				Reason: "alloc stopped: alloc is being migrated", Replacement: &engine.Ref{JobID: 1, Attempt: 2}}},
		},
		{
			name:    "5a stopped, replacement not seen: stop the job",
			allocs:  []string{"05a-alloc-long-stop.after-stop-0s.json"},
			prepare: func(w *watch) { w.notices["f089c5b9-70ef-14ed-b1e1-0e0cddf62952"] = nil },
			want:    []engine.Event{placed, running},
			act:     action{deregister: stopPreempted},
		},
		{
			name:   "5a stopped and ended, job already stopped by the engine: no adoption",
			allocs: []string{"05a-alloc-long-stop.after-stop-10s.json", "05a-alloc-long-stop.replacement.json"},
			prepare: func(w *watch) {
				w.notices["f089c5b9-70ef-14ed-b1e1-0e0cddf62952"] = nil
				w.deregistered = true
			},
			want: []engine.Event{placed, running, ev(engine.EventPreempted, "", 0, "alloc stopped: alloc is being migrated")},
		},
		{
			name: "5b stopped on an ineligible node, ended", allocs: []string{"05b-alloc-long-inelig.after-stop-10s.json"},
			prepare: func(w *watch) {
				w.notices["54c6b67a-51ba-441f-6598-78514a9e9fd0"] = nil
				w.deregistered = true
			},
			want: []engine.Event{placed, running, ev(engine.EventPreempted, "", 0, "alloc stopped: alloc is being migrated")},
		},
		{
			name: "5c lost: stop the job before reporting", allocs: []string{"05c-alloc-long-lost.node-down-0s.json"},
			want: []engine.Event{placed, running},
			act:  action{deregister: stopPreempted},
		},
		{
			name:   "5c-2 lost with a linked replacement: adopt it",
			allocs: []string{"05c2-alloc-long-lost2.lost.json", "05c2-alloc-long-lost2.replacement.running.json"},
			want:   []engine.Event{placed, running},
			act:    action{adopt: "63b9cf06-fcc4-aa60-ca82-b0da2a58493d"},
		},
		{
			name:   "5c-2 lost with a linked replacement, two nodes: never adopt",
			allocs: []string{"05c2-alloc-long-lost2.lost.json", "05c2-alloc-long-lost2.replacement.running.json"},
			count:  2,
			act:    action{deregister: stopPreempted},
		},
		{
			name: "6 stopped by an operator", allocs: []string{"06-alloc-long-deregister.after-delete-complete.json"},
			prepare: func(w *watch) { w.jobStopped = true },
			want: []engine.Event{placed, running,
				ev(engine.EventOperatorStopped, "", 0, "Nomad job sky-1-0 was stopped outside skynomad")},
		},
		{
			name: "6 stopped by skynomad", allocs: []string{"06-alloc-long-deregister.after-delete-complete.json"},
			prepare: func(w *watch) {
				w.jobStopped, w.stopRequested, w.deregistered, w.selfStop = true, true, true, stopRequested
			},
			want: []engine.Event{placed, running,
				{Ref: ref, Kind: engine.EventStopped, Time: now, Reason: "stopped by skynomad"}},
		},
		{
			name: "6 still stopping", allocs: []string{"06-alloc-long-deregister.after-delete-0s.json"},
			prepare: func(w *watch) { w.jobStopped = true },
			want:    []engine.Event{placed, running},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWatch("sky-1-0", ref, max(tt.count, 1))
			w.registered = true
			for _, name := range tt.allocs {
				a := recorded(t, name)
				w.allocs[a.ID] = viewOfAlloc(a)
			}
			if tt.prepare != nil {
				tt.prepare(w)
			}
			got, act := w.decide(now, 5*time.Minute)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if act != tt.act {
				t.Errorf("action %+v, want %+v", act, tt.act)
			}
		})
	}
}

func TestTailLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\n", 5, "a\nb\n"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := string(tailLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("tailLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
