package interrupt

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func testNode() nodeInfo {
	return nodeInfo{ID: "node-1", Name: "spot-1", Eligible: true, Attributes: map[string]string{"platform.aws.instance-type": "m5.large"}}
}

// testAllocs: two skynomad allocations (one in setup, one running), and
// four that must be left alone.
func testAllocs() []allocInfo {
	return []allocInfo{
		{ID: "a1", Namespace: "default", JobID: "sky-7-0", SkyJobID: "7", NodeID: "node-1", NodeName: "spot-1",
			ClientStatus: "running", DesiredStatus: "run", RunningTasks: []string{"run"}},
		{ID: "o1", Namespace: "default", JobID: "web", NodeID: "node-1", NodeName: "spot-1",
			ClientStatus: "running", DesiredStatus: "run", RunningTasks: []string{"run"}},
		{ID: "a2", Namespace: "default", JobID: "sky-8-0", SkyJobID: "8", NodeID: "node-1", NodeName: "spot-1",
			ClientStatus: "running", DesiredStatus: "run", RunningTasks: []string{"setup"}},
		{ID: "o2", Namespace: "default", JobID: "sky-lookalike", NodeID: "node-1", NodeName: "spot-1",
			ClientStatus: "running", DesiredStatus: "run", RunningTasks: []string{"run"}},
		{ID: "o3", Namespace: "default", JobID: "sky-9-0", SkyJobID: "9", NodeID: "node-1", NodeName: "spot-1",
			ClientStatus: "complete", DesiredStatus: "run"},
		{ID: "x1", Namespace: "default", JobID: "sky-10-0", SkyJobID: "10", NodeID: "node-2", NodeName: "spot-2",
			ClientStatus: "running", DesiredStatus: "run", RunningTasks: []string{"run"}},
	}
}

func terminate(deadline time.Duration) *Notice {
	return &Notice{Cloud: CloudAWS, Action: ActionTerminate, NoticeTime: t0, Deadline: t0.Add(deadline)}
}

// step sets the clock to t0+at, delivers notice (if any), reconciles and
// records when the handler asks to run again.
type step struct {
	at     time.Duration
	notice *Notice
	before func(f *fakeNomad) // changes the cluster before the step
}

func TestHandlerSteps(t *testing.T) {
	t.Parallel()
	prepareBoth := []string{
		"ineligible node-1",
		"record a1", "signal a1 run SIGTERM",
		"record a2", "signal a2 setup SIGTERM",
	}
	tests := []struct {
		name      string
		ineligble bool // node already ineligible
		policy    RebalancePolicy
		fail      map[string]int
		steps     []step
		wantCalls []string
		// wantWakes: per step, the offset from t0 the handler asked to be
		// woken at; -1 for none.
		wantWakes []time.Duration
		wantAcked []string
	}{
		{
			name:      "terminate: ineligible, record, signal, then stop at deadline minus margin",
			steps:     []step{{at: 0, notice: terminate(120 * time.Second)}, {at: 115 * time.Second}, {at: 117 * time.Second}, {at: 119 * time.Second}, {at: 121 * time.Second}},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{115 * time.Second, 117 * time.Second, 119 * time.Second, 120 * time.Second, -1},
		},
		{
			name:      "short notice stops at once",
			steps:     []step{{at: 0, notice: terminate(3 * time.Second)}},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{2 * time.Second},
		},
		{
			name:      "node already ineligible is not marked again",
			ineligble: true,
			steps:     []step{{at: 0, notice: terminate(3 * time.Second)}},
			wantCalls: append(prepareBoth[1:], "stop a1", "stop a2"),
			wantWakes: []time.Duration{2 * time.Second},
		},
		{
			name: "the same notice repeated does nothing twice",
			steps: []step{
				{at: 0, notice: terminate(120 * time.Second)},
				{at: 10 * time.Second, notice: terminate(120 * time.Second)},
				{at: 115 * time.Second},
				{at: 116 * time.Second, notice: terminate(120 * time.Second)},
			},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{115 * time.Second, 115 * time.Second, 117 * time.Second, 118 * time.Second},
		},
		{
			name: "a later notice with an earlier deadline moves the stop",
			steps: []step{
				{at: 0, notice: terminate(120 * time.Second)},
				{at: 10 * time.Second, notice: &Notice{Cloud: CloudAWS, Action: ActionStop, NoticeTime: t0.Add(10 * time.Second), Deadline: t0.Add(30 * time.Second)}},
				{at: 25 * time.Second},
			},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{115 * time.Second, 25 * time.Second, 27 * time.Second},
		},
		{
			name: "an allocation that ended after SIGTERM is not stopped",
			steps: []step{
				{at: 0, notice: terminate(120 * time.Second)},
				{at: 115 * time.Second, before: func(f *fakeNomad) {
					a := testAllocs()[0]
					a.ClientStatus, a.RunningTasks = "complete", nil
					f.setAlloc(a)
				}},
			},
			wantCalls: append(prepareBoth, "stop a2"),
			wantWakes: []time.Duration{115 * time.Second, 117 * time.Second},
		},
		{
			name:      "a failed Variable write holds back that allocation's SIGTERM",
			fail:      map[string]int{"record": 1},
			steps:     []step{{at: 0, notice: terminate(120 * time.Second)}, {at: 2 * time.Second}},
			wantCalls: []string{"ineligible node-1", "record a2", "signal a2 setup SIGTERM", "record a1", "signal a1 run SIGTERM"},
			wantWakes: []time.Duration{2 * time.Second, 115 * time.Second},
		},
		{
			name:      "no stop while the node could not be made ineligible",
			fail:      map[string]int{"ineligible": 1},
			steps:     []step{{at: 0, notice: terminate(3 * time.Second)}, {at: 2 * time.Second}},
			wantCalls: append(append(append([]string(nil), prepareBoth[1:]...), "ineligible node-1"), "stop a1", "stop a2"),
			wantWakes: []time.Duration{2 * time.Second, 3 * time.Second},
		},
		{
			name:      "a failed stop is retried, others are not repeated",
			fail:      map[string]int{"stop": 1},
			steps:     []step{{at: 0, notice: terminate(3 * time.Second)}, {at: 1 * time.Second}},
			wantCalls: append(prepareBoth, "stop a2", "stop a1"),
			wantWakes: []time.Duration{2 * time.Second, 3 * time.Second},
		},
		{
			name:      "rebalance ignored by default",
			steps:     []step{{at: 0, notice: &Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t0}}},
			wantWakes: []time.Duration{-1},
		},
		{
			name:      "rebalance marks the node ineligible only",
			policy:    RebalanceIneligible,
			steps:     []step{{at: 0, notice: &Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t0}}, {at: time.Second, notice: &Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t0.Add(time.Second)}}},
			wantCalls: []string{"ineligible node-1"},
			wantWakes: []time.Duration{-1, -1},
		},
		{
			name:      "rebalance drains the node",
			policy:    RebalanceDrain,
			steps:     []step{{at: 0, notice: &Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t0}}},
			wantCalls: []string{"drain node-1 1h0m0s"},
			wantWakes: []time.Duration{-1},
		},
		{
			name:   "rebalance then terminate: one ineligibility",
			policy: RebalanceIneligible,
			steps: []step{
				{at: 0, notice: &Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t0}},
				{at: time.Second, notice: terminate(3 * time.Second)},
			},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{-1, 3 * time.Second},
		},
		{
			name:      "azure event acknowledged after the stop",
			steps:     []step{{at: 0, notice: &Notice{Cloud: CloudAzure, Action: ActionPreempt, NoticeTime: t0, Deadline: t0.Add(30 * time.Second), EventID: "ev-1"}}, {at: 25 * time.Second}},
			wantCalls: append(prepareBoth, "stop a1", "stop a2"),
			wantWakes: []time.Duration{25 * time.Second, 27 * time.Second},
			wantAcked: []string{"ev-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			node := testNode()
			node.Eligible = !tc.ineligble
			f := newFakeNomad(node, testAllocs()...)
			for k, v := range tc.fail {
				f.fail[k] = v
			}
			clock := newFakeClock(t0)
			w := &chanWatcher{}
			h, err := newHandler(HandlerConfig{
				NodeID: "node-1", AllocRoot: t.TempDir(), OnRebalance: tc.policy,
				StopMargin: 5 * time.Second, Now: clock.Now, After: clock.After, Logger: testLogger(t),
			}, w, f)
			if err != nil {
				t.Fatal(err)
			}
			var wakes []time.Duration
			for _, s := range tc.steps {
				clock.Set(t0.Add(s.at))
				if s.before != nil {
					s.before(f)
				}
				if s.notice != nil {
					h.accept(*s.notice)
				}
				next, ok := h.reconcile(context.Background())
				if ok {
					wakes = append(wakes, next.Sub(t0))
				} else {
					wakes = append(wakes, -1)
				}
			}
			if diff := cmp.Diff(tc.wantCalls, f.Calls()); diff != "" {
				t.Errorf("Nomad calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWakes, wakes); diff != "" {
				t.Errorf("wake-ups (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAcked, w.Acked()); diff != "" {
				t.Errorf("acknowledged events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlerRecordsAndDeadlineFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	// Only a1's allocation directory is on this host.
	if err := os.MkdirAll(filepath.Join(root, "a1", "alloc"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFakeNomad(testNode(), testAllocs()...)
	clock := newFakeClock(t0)
	h, err := newHandler(HandlerConfig{NodeID: "node-1", AllocRoot: root, Now: clock.Now, After: clock.After, Logger: testLogger(t)}, &chanWatcher{}, f)
	if err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(2*time.Minute + 500*time.Millisecond)
	h.accept(Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: t0, Deadline: deadline})
	h.reconcile(context.Background())

	wantVars := map[string]map[string]string{
		"default/skynomad/preemptions/a1": {"node_id": "node-1", "node_name": "spot-1", "notice_time": "2026-11-28T12:00:00Z", "deadline": "2026-11-28T12:02:00Z", "cloud": "gcp", "action": "preempt"},
		"default/skynomad/preemptions/a2": {"node_id": "node-1", "node_name": "spot-1", "notice_time": "2026-11-28T12:00:00Z", "deadline": "2026-11-28T12:02:00Z", "cloud": "gcp", "action": "preempt"},
	}
	gotVars := map[string]map[string]string{}
	for k, r := range f.vars {
		gotVars[k] = r.items()
	}
	if diff := cmp.Diff(wantVars, gotVars); diff != "" {
		t.Errorf("Variables (-want +got):\n%s", diff)
	}

	b, err := os.ReadFile(filepath.Join(root, "a1", "alloc", "skynomad", "preemption-deadline"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("2026-11-28T12:02:00.5Z\n", string(b)); diff != "" {
		t.Errorf("deadline file (-want +got):\n%s", diff)
	}
	got, ok, err := ReadDeadlineFile(DeadlineFilePath(root, "a1"))
	if err != nil || !ok || !got.Equal(deadline) {
		t.Errorf("ReadDeadlineFile = %v, %v, %v; want %v", got, ok, err, deadline)
	}
	if _, err := os.Stat(filepath.Join(root, "a2")); !os.IsNotExist(err) {
		t.Errorf("a2 has no directory here; the handler must not create one (stat: %v)", err)
	}
	for _, other := range []string{"o1", "o2", "o3", "x1"} {
		if _, err := os.Stat(filepath.Join(root, other)); !os.IsNotExist(err) {
			t.Errorf("%s is not skynomad's: its directory must be untouched (stat: %v)", other, err)
		}
	}

	// A later notice with a later deadline keeps the earlier one; an
	// earlier deadline replaces it.
	h.accept(Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: t0, Deadline: deadline.Add(time.Minute)})
	h.reconcile(context.Background())
	if got, _, _ := ReadDeadlineFile(DeadlineFilePath(root, "a1")); !got.Equal(deadline) {
		t.Errorf("after a later notice the deadline is %v; want %v kept", got, deadline)
	}
	earlier := t0.Add(40 * time.Second)
	h.accept(Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: t0, Deadline: earlier})
	h.reconcile(context.Background())
	if got, _, _ := ReadDeadlineFile(DeadlineFilePath(root, "a1")); !got.Equal(earlier) {
		t.Errorf("after an earlier notice the deadline is %v; want %v", got, earlier)
	}
}

// TestHandlerRun drives Run end to end with a fake clock: notice in,
// SIGTERM at once, stop when the clock reaches the deadline minus margin,
// clean return when ctx ends.
func TestHandlerRun(t *testing.T) {
	t.Parallel()
	f := newFakeNomad(testNode(), testAllocs()...)
	clock := newFakeClock(t0)
	w := &chanWatcher{ch: make(chan Notice)}
	h, err := newHandler(HandlerConfig{NodeID: "node-1", AllocRoot: t.TempDir(), StopMargin: 5 * time.Second,
		Now: clock.Now, After: clock.After, Logger: testLogger(t)}, w, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	w.ch <- *terminate(60 * time.Second)
	waitFor(t, "SIGTERM to a2", 5*time.Second, func() bool { return len(f.Calls()) == 5 })
	waitFor(t, "the stop timer", 5*time.Second, func() bool { return clock.Waiting() == 1 })
	if calls := f.Calls(); calls[len(calls)-1] != "signal a2 setup SIGTERM" {
		t.Fatalf("calls before the stop time: %v", calls)
	}
	if got, want := clock.NextWake(), t0.Add(55*time.Second); !got.Equal(want) {
		t.Fatalf("stop timer set for %v; want deadline minus margin %v", got, want)
	}
	clock.Set(t0.Add(55 * time.Second))
	waitFor(t, "both stops", 5*time.Second, func() bool { return len(f.Calls()) == 7 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestHandlerConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  HandlerConfig
		ok   bool
	}{
		{"defaults", HandlerConfig{NodeID: "n"}, true},
		{"no node", HandlerConfig{}, false},
		{"negative margin", HandlerConfig{NodeID: "n", StopMargin: -time.Second}, false},
		{"bad policy", HandlerConfig{NodeID: "n", OnRebalance: "cordon"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v; want ok=%v", err, tc.ok)
			}
			if tc.ok && (tc.cfg.AllocRoot != DefaultAllocRoot || tc.cfg.OnRebalance != RebalanceIgnore || tc.cfg.RetryInterval != DefaultRetryInterval) {
				t.Errorf("defaults not filled: %+v", tc.cfg)
			}
		})
	}
}

// testLogger writes the handler's log into the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
