package nomad

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
	"github.com/skynomad/skynomad/task"
)

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

// ignoreTime drops what the engine's clock decides.
var ignoreTime = cmpopts.IgnoreFields(engine.Event{}, "Time")

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorder is the sink: enginetest's recorder, with this package's
// shorthands.
type recorder struct{ *enginetest.Recorder }

func newRecorder() *recorder { return &recorder{enginetest.NewRecorder()} }

func (r *recorder) sink(ev engine.Event) { r.Sink(ev) }

func (r *recorder) of(ref engine.Ref) []engine.Event { return r.Events(ref) }

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
	return r.Wait(t, ref, kind, waitLimit)
}

func (r *recorder) waitWithin(t *testing.T, ref engine.Ref, kind engine.EventKind, limit time.Duration) engine.Event {
	t.Helper()
	return r.Wait(t, ref, kind, limit)
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
		Client: h.client, Sink: h.rec.sink, Clock: h.clock, Cursor: h.cursor,
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

// thisHost places an attempt on any node (no node class), as the
// controller places infra local on a cluster.
var thisHost = catalog.Choice{Offering: catalog.Offering{Cloud: catalog.LocalCloud, Region: catalog.LocalCloud, InstanceType: catalog.LocalCloud}}

// attempt builds attempt n of task 0 of job jobID, placed on any node; the
// engine renders it with render.RenderJob like every attempt.
func attempt(jobID int64, n int, setup, run string, nodes int) *engine.Attempt {
	return &engine.Attempt{
		Ref:     engine.Ref{JobID: jobID, Task: 0, Attempt: n},
		JobName: "test",
		Task:    task.Task{Name: "t", NumNodes: nodes, Setup: setup, Run: run},
		Choice:  thisHost,
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
			if a.Job.Meta[naming.MetaAttempt] == strconv.Itoa(ref.Attempt) && a.PreviousAllocation == "" {
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
