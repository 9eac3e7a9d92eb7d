package nomad

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/internal/realagent"
)

// realClient is a client of the Nomad agent at NOMAD_ADDR; without one the
// test skips (fails in CI: see realagent).
func realClient(t *testing.T) *api.Client {
	t.Helper()
	realagent.Addr(t, "NOMAD_ADDR", "no Nomad agent (with the skypilot driver) to run against; `make test` starts one")
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// realConfig renders attempts as the controller does (render.RenderJob):
// for the skypilot task driver, whose clients run on this host as this
// user.
func realConfig(t *testing.T, client *api.Client, sink engine.Sink, poll time.Duration) Config {
	t.Helper()
	return Config{Client: client, Sink: sink, PollInterval: poll}
}

// startReal builds an engine from cfg and starts it until the test ends.
func startReal(t *testing.T, ctx context.Context, cfg Config) *Engine {
	t.Helper()
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// realEngine starts an engine that polls every poll on the Nomad agent at
// NOMAD_ADDR, or skips (fails in CI: see realagent).
func realEngine(t *testing.T, poll time.Duration) (*api.Client, *recorder, *Engine, context.Context) {
	t.Helper()
	client := realClient(t)
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	eng := startReal(t, ctx, realConfig(t, client, rec.sink, poll))
	return client, rec, eng, ctx
}

// cleanUpReal purges the job and the Variables the engine wrote for it.
func cleanUpReal(t *testing.T, client *api.Client, jobID string) {
	t.Cleanup(func() {
		_, _, _ = client.Jobs().Deregister(jobID, true, nil)
		for _, path := range []string{naming.StopVariable(jobID), naming.AttemptVariable(jobID), naming.SecretsVariable(jobID)} {
			_, _ = client.Variables().Delete(path, nil)
		}
	})
}

// lastRealJobID is the last id realJobID handed out.
var lastRealJobID atomic.Int64

// realJobID is a managed-job id no other run uses: the time in
// microseconds, and never the same twice in this process, even for
// parallel tests that start together.
func realJobID() int64 {
	for {
		last, id := lastRealJobID.Load(), time.Now().UnixMicro()
		if id <= last {
			id = last + 1
		}
		if lastRealJobID.CompareAndSwap(last, id) {
			return id
		}
	}
}

// realPoll paces the engines of realHarness: the waits of Stop and Launch
// when no event arrives.
const realPoll = 250 * time.Millisecond

// realWait bounds every wait for the real agent, which is slower than
// the fake when the 2-core machine is busy.
const realWait = time.Minute

// realHarness is an engine on the Nomad agent at NOMAD_ADDR and what a
// test needs around it: a client of its own for what an operator or the
// spot handler does, the requests the engine made, and the event cursor a
// restarted engine resumes from.
type realHarness struct {
	client    *api.Client // the test's: the operator, the spot handler
	engClient *api.Client // the engines': their requests go through reqs
	reqs      *requestLog
	cursor    *memCursor
	rec       *recorder
	eng       *Engine
	ctx       context.Context
}

// newRealHarness starts an engine on the agent at NOMAD_ADDR (skipped
// without one, failed in CI) whose requests pass through wrap, if set, on
// their way to the agent.
func newRealHarness(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *realHarness {
	t.Helper()
	client := realClient(t)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	var next http.RoundTripper = transport
	if wrap != nil {
		next = wrap(next)
	}
	reqs := &requestLog{next: next}
	cfg := api.DefaultConfig()
	cfg.HttpClient = &http.Client{Transport: reqs}
	engClient, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	h := &realHarness{client: client, engClient: engClient, reqs: reqs, cursor: &memCursor{}, rec: newRecorder(), ctx: ctx}
	h.eng = h.start(t, h.rec)
	return h
}

// start starts another engine on the same agent and event cursor, as a
// restarted controller does; its events go to rec.
func (h *realHarness) start(t *testing.T, rec *recorder) *Engine {
	t.Helper()
	cfg := realConfig(t, h.engClient, rec.sink, realPoll)
	cfg.Cursor = h.cursor
	return startReal(t, h.ctx, cfg)
}

// attempt is attempt n of a new managed job's task 0, whose Nomad job is
// purged when the test ends.
func (h *realHarness) attempt(t *testing.T, n int, setup, run string, nodes int) *engine.Attempt {
	t.Helper()
	a := attempt(realJobID(), n, setup, run, nodes)
	cleanUpReal(t, h.client, JobID(a.Ref))
	return a
}

func (h *realHarness) launch(t *testing.T, a *engine.Attempt) {
	t.Helper()
	if err := h.eng.Launch(h.ctx, a); err != nil {
		t.Fatalf("launch %v: %v", a.Ref, err)
	}
}

// wait returns the first event of that kind for ref, waiting for it.
func (h *realHarness) wait(t *testing.T, ref engine.Ref, kind engine.EventKind) engine.Event {
	t.Helper()
	return h.rec.waitWithin(t, ref, kind, realWait)
}

// allocs lists the Nomad job's allocs, oldest first.
func (h *realHarness) allocs(t *testing.T, jobID string) []*api.AllocationListStub {
	t.Helper()
	stubs, _, err := h.client.Jobs().Allocations(jobID, false, nil)
	if err != nil {
		t.Fatalf("allocations of %s: %v", jobID, err)
	}
	sort.Slice(stubs, func(i, k int) bool { return stubs[i].CreateIndex < stubs[k].CreateIndex })
	return stubs
}

// onlyAlloc is the Nomad job's only alloc.
func (h *realHarness) onlyAlloc(t *testing.T, jobID string) *api.AllocationListStub {
	t.Helper()
	stubs := h.allocs(t, jobID)
	if len(stubs) != 1 {
		t.Fatalf("%s has %d allocs, want 1", jobID, len(stubs))
	}
	return stubs[0]
}

func (h *realHarness) alloc(t *testing.T, id string) *api.Allocation {
	t.Helper()
	a, _, err := h.client.Allocations().Info(id, nil)
	if err != nil {
		t.Fatalf("alloc %s: %v", id, err)
	}
	return a
}

// stopAlloc stops one alloc as `nomad alloc stop` and the spot handler
// do (Allocations().Stop): its node stays eligible.
func (h *realHarness) stopAlloc(t *testing.T, id string) {
	t.Helper()
	if _, err := h.client.Allocations().Stop(&api.Allocation{ID: id}, nil); err != nil {
		t.Fatalf("stop alloc %s: %v", id, err)
	}
}

// putNotice leaves the spot handler's preemption record of the alloc, as
// interrupt does before it signals or stops the alloc.
func (h *realHarness) putNotice(t *testing.T, al *api.AllocationListStub, noticed, deadline time.Time) {
	t.Helper()
	path := naming.PreemptionVariable(al.ID)
	v := &api.Variable{Path: path, Items: api.VariableItems{
		naming.PreemptionNodeID: al.NodeID, naming.PreemptionNodeName: al.NodeName,
		naming.PreemptionNoticeTime: noticed.Format(time.RFC3339), naming.PreemptionDeadline: deadline.Format(time.RFC3339),
		naming.PreemptionCloud: "aws", naming.PreemptionAction: "terminate",
	}}
	if _, _, err := h.client.Variables().Create(v, nil); err != nil {
		t.Fatalf("preemption record of %s: %v", al.ID, err)
	}
	t.Cleanup(func() { _, _ = h.client.Variables().Delete(path, nil) })
}

// terminal reports whether Nomad is done with an alloc.
func terminal(clientStatus string) bool {
	switch clientStatus {
	case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
		return true
	}
	return false
}

// waitAllocTerminal waits until Nomad is done with the alloc.
func (h *realHarness) waitAllocTerminal(t *testing.T, id string) *api.Allocation {
	t.Helper()
	var a *api.Allocation
	realEventually(t, "alloc "+id+" terminal", func() bool {
		a = h.alloc(t, id)
		return terminal(a.ClientStatus)
	})
	return a
}

// attemptVersions lists sky.attempt of every version of the Nomad job,
// oldest first.
func (h *realHarness) attemptVersions(t *testing.T, jobID string) []string {
	t.Helper()
	versions, _, _, err := h.client.Jobs().Versions(jobID, false, nil)
	if err != nil {
		t.Fatalf("versions of %s: %v", jobID, err)
	}
	sort.Slice(versions, func(i, k int) bool { return deref(versions[i].Version) < deref(versions[k].Version) })
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.Meta[naming.MetaAttempt]
	}
	return out
}

// startedAfter reports whether every task of alloc b that started did so
// after every task of alloc a had finished: never two copies at once.
func startedAfter(b, a *api.Allocation) (bool, string) {
	var ended, started time.Time
	for _, ts := range a.TaskStates {
		if ts.FinishedAt.After(ended) {
			ended = ts.FinishedAt
		}
	}
	for _, ts := range b.TaskStates {
		if !ts.StartedAt.IsZero() && (started.IsZero() || ts.StartedAt.Before(started)) {
			started = ts.StartedAt
		}
	}
	return !started.Before(ended), fmt.Sprintf("%s ended %s, %s started %s", a.ID, ended, b.ID, started)
}

// realEventually polls cond, which may ask the agent, until it holds or
// realWait passes.
func realEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(realWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shellQuote quotes a path for a task's bash script (test names, and so
// temp dirs, may hold parentheses).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// touch creates a file a task waits for: the tasks of both clients run on
// this host.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// requestLog records each request of the engine's client as
// "METHOD /path?query" before passing it on.
type requestLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.RequestURI())
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func readLogs(t *testing.T, ctx context.Context, eng *Engine, ref engine.Ref) string {
	t.Helper()
	r, err := eng.Logs(ctx, ref, engine.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestRealNomad runs a tiny job through the engine on the Nomad agent at
// NOMAD_ADDR (a client with the skypilot driver is needed).
func TestRealNomad(t *testing.T) {
	client, rec, eng, ctx := realEngine(t, time.Second)
	a := attempt(realJobID(), 1, "echo preparing", "echo hello-from-skynomad; exit 3", 1)
	cleanUpReal(t, client, JobID(a.Ref))
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitWithin(t, a.Ref, engine.EventExited, 2*time.Minute)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 3 {
		t.Errorf("exited %+v, want run phase with code 3", ev)
	}
	b := readLogs(t, ctx, eng, a.Ref)
	for _, want := range []string{"preparing", "hello-from-skynomad"} {
		if !strings.Contains(b, want) {
			t.Errorf("logs %q lack %q", b, want)
		}
	}
}

// TestRealNomadFollowLogs follows a short attempt from its placement: the
// stream has setup's and run's output and ends soon after the attempt
// does, although Nomad keeps a followed log open after its task died.
func TestRealNomadFollowLogs(t *testing.T) {
	client, rec, eng, ctx := realEngine(t, 5*time.Second) // the default: the follow must not wait on it
	a := attempt(realJobID(), 1, "echo preparing", "echo hello-from-skynomad", 1)
	cleanUpReal(t, client, JobID(a.Ref))
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	rec.waitWithin(t, a.Ref, engine.EventPlaced, time.Minute)
	r, err := eng.Logs(ctx, a.Ref, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	exited := rec.waitWithin(t, a.Ref, engine.EventExited, time.Minute)
	select {
	case got := <-read:
		if want := "(setup pid=N) preparing\n(t, pid=N) hello-from-skynomad\n"; normalizePIDs(got) != want {
			t.Errorf("followed logs %q, want %q", got, want)
		}
		t.Logf("the follow ended %s after the attempt's exit", time.Since(exited.Time).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the followed logs did not end within 10s of the attempt's exit")
	}
}

var pidRE = regexp.MustCompile(`pid=\d+`)

// normalizePIDs hides the runner's pids in its output prefixes.
func normalizePIDs(s string) string { return pidRE.ReplaceAllString(s, "pid=N") }
