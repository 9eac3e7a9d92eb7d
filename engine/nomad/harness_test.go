package nomad

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
	"github.com/skynomad/skynomad/task"
)

// testRender renders an attempt like the recorded request bodies: one
// batch job, group "main", restart and reschedule off, a prestart "setup"
// task when there is setup, and "run".
func testRender(a *engine.Attempt) (*api.Job, error) {
	id := JobID(a.Ref)
	var tasks []*api.Task
	if a.Task.Setup != "" && !a.SkipSetup {
		tasks = append(tasks, &api.Task{
			Name: taskSetup, Driver: "raw_exec",
			Lifecycle: &api.TaskLifecycle{Hook: api.TaskLifecycleHookPrestart},
			Config:    map[string]any{"command": "/bin/sh", "args": []string{"-c", a.Task.Setup}},
		})
	}
	tasks = append(tasks, &api.Task{
		Name: taskRun, Driver: "raw_exec",
		Config: map[string]any{"command": "/bin/sh", "args": []string{"-c", a.Task.Run}},
	})
	return &api.Job{
		ID: new(id), Name: new(id), Type: new("batch"), Datacenters: []string{"dc1"},
		Meta: map[string]string{
			MetaJobID: strconv.FormatInt(a.Ref.JobID, 10), MetaTask: strconv.Itoa(a.Ref.Task),
			MetaAttempt: strconv.Itoa(a.Ref.Attempt), "sky.job_name": a.JobName,
		},
		TaskGroups: []*api.TaskGroup{{
			Name: new("main"), Count: new(max(a.Task.NumNodes, 1)),
			RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
			ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
			Tasks:            tasks,
		}},
	}, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is the sink: it keeps every event and wakes waiters.
type recorder struct {
	mu      sync.Mutex
	events  []engine.Event
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) sink(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) of(ref engine.Ref) []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Event
	for _, ev := range r.events {
		if ev.Ref == ref {
			out = append(out, ev)
		}
	}
	return out
}

func (r *recorder) kinds(ref engine.Ref) []engine.EventKind {
	var out []engine.EventKind
	for _, ev := range r.of(ref) {
		out = append(out, ev.Kind)
	}
	return out
}

const waitLimit = 10 * time.Second

// wait returns the first event of that kind for ref, waiting for it.
func (r *recorder) wait(t *testing.T, ref engine.Ref, kind engine.EventKind) engine.Event {
	t.Helper()
	return r.waitWithin(t, ref, kind, waitLimit)
}

func (r *recorder) waitWithin(t *testing.T, ref engine.Ref, kind engine.EventKind, limit time.Duration) engine.Event {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		for _, ev := range r.events {
			if ev.Ref == ref && ev.Kind == kind {
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no %s event for %v; got %v", kind, ref, r.kinds(ref))
		}
	}
}

type harness struct {
	fake   *nomadfake.Server
	srv    *httptest.Server
	client *api.Client
	clock  *fakeClock
	cursor *memCursor
	rec    *recorder
	eng    *Engine
	node   string
}

type harnessOpts struct {
	fake           nomadfake.Options
	reconnectDelay time.Duration
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)}
	o.fake.Now = clock.Now
	fake := nomadfake.New(o.fake)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		fake.Close()
		srv.Close()
	})
	client, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{fake: fake, srv: srv, client: client, clock: clock, cursor: &memCursor{}, rec: newRecorder()}
	h.node = fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client", Class: "sky-test"})
	h.eng = h.start(t, o.reconnectDelay)
	// What a test does from now on reaches the engine through the stream.
	eventually(t, "the event stream open", func() bool { return fake.Streams() == 1 })
	return h
}

// start builds and starts an engine on the harness's cursor (a restarted
// controller calls it again).
func (h *harness) start(t *testing.T, reconnectDelay time.Duration) *Engine {
	t.Helper()
	if reconnectDelay == 0 {
		reconnectDelay = 10 * time.Millisecond
	}
	eng, err := New(Config{
		Client: h.client, Render: testRender, Sink: h.rec.sink, Clock: h.clock, Cursor: h.cursor,
		PlacementTimeout: time.Minute, PollInterval: 20 * time.Millisecond, ReconnectDelay: reconnectDelay,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

func attempt(jobID int64, n int, setup, run string, nodes int) *engine.Attempt {
	return &engine.Attempt{
		Ref:     engine.Ref{JobID: jobID, Task: 0, Attempt: n},
		JobName: "test",
		Task:    task.Task{Name: "t", NumNodes: nodes, Setup: setup, Run: run},
	}
}

func (h *harness) launch(t *testing.T, a *engine.Attempt) {
	t.Helper()
	if err := h.eng.Launch(t.Context(), a); err != nil {
		t.Fatalf("launch %v: %v", a.Ref, err)
	}
}

// allocsOf waits for the attempt's n allocs that Nomad placed for its
// version (not replacements) and returns them by rank.
func (h *harness) allocsOf(t *testing.T, ref engine.Ref, n int) []*api.Allocation {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		var out []*api.Allocation
		for _, a := range h.fake.Allocs(JobID(ref)) {
			if a.Job.Meta[MetaAttempt] == strconv.Itoa(ref.Attempt) && a.PreviousAllocation == "" {
				out = append(out, a)
			}
		}
		if len(out) >= n {
			return out[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempt %v has %d allocs, want %d", ref, len(out), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) allocOf(t *testing.T, ref engine.Ref) string {
	t.Helper()
	return h.allocsOf(t, ref, 1)[0].ID
}

// eventually polls cond until it holds or the wait limit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func count(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}
