package jobs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/internal/syncbuf"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// testBackoff keeps retries in the milliseconds.
var testBackoff = Backoff{Initial: 2 * time.Millisecond, Factor: 1.6, Max: 10 * time.Millisecond, Jitter: 0.4}

// waitTimeout bounds every wait in these tests.
const waitTimeout = 15 * time.Second

type harness struct {
	t      *testing.T
	ctl    *Controller
	eng    *enginetest.Fake
	plan   *FakePlanner
	store  *store.Store
	dir    string
	cfg    Config
	logs   *syncbuf.Buffer
	cancel context.CancelFunc
}

// newHarness starts a controller on a fresh store with a fake engine whose
// attempts succeed, and a fake planner over TestOfferings.
func newHarness(t *testing.T, tweak ...func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, dir: dir, logs: &syncbuf.Buffer{}, plan: &FakePlanner{Offerings: TestOfferings}}
	q := NewEventQueue()
	h.eng = enginetest.NewFake(q.Sink)
	h.eng.SetScript(enginetest.Succeed)
	h.cfg = Config{
		Store: st, Engine: h.eng, Events: q, Planner: h.plan, LogDir: filepath.Join(dir, "logs"),
		RetryBackoff: testBackoff, LogDrainGrace: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range tweak {
		f(&h.cfg)
	}
	h.start()
	t.Cleanup(func() {
		h.ctl.Stop()
		st.Close()
		if t.Failed() {
			t.Logf("controller log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) start() {
	h.t.Helper()
	ctl, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ctl.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.ctl, h.cancel = ctl, cancel
}

func (h *harness) submit(dag task.DAG) int64 {
	h.t.Helper()
	ids, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: dag, User: "alice"})
	if err != nil {
		h.t.Fatal(err)
	}
	return ids[0]
}

// sync returns once the loop has handled everything posted before.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.ctl.call(context.Background(), func() error { return nil }); err != nil {
		h.t.Fatal(err)
	}
}

// wait waits until the job satisfies cond, woken by the controller's
// change notifications.
func (h *harness) wait(id int64, what string, cond func(api.Job) bool) api.Job {
	h.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		changed := h.ctl.notes.wait(id)
		j, err := h.ctl.Job(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		select {
		case <-changed:
		case <-deadline:
			h.t.Fatalf("job %d: timed out waiting for %s; now %s %+v", id, what, j.Status, j.Tasks)
		}
	}
}

func (h *harness) waitStatus(id int64, want api.Status) api.Job {
	h.t.Helper()
	return h.wait(id, string(want), func(j api.Job) bool { return j.Status == want })
}

func (h *harness) waitTerminal(id int64) api.Job {
	h.t.Helper()
	return h.wait(id, "a final status", func(j api.Job) bool { return j.Status.Terminal() })
}

// waitLaunched waits until the engine was asked to launch ref.
func (h *harness) waitLaunched(ref engine.Ref) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := h.eng.WaitFor(ctx, func() bool {
		for _, a := range h.eng.Launches() {
			if a.Ref == ref {
				return true
			}
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("%s was never launched; launches: %v", ref, refs(h.eng.Launches()))
	}
}

func (h *harness) controllerLog(id int64) string {
	h.t.Helper()
	h.ctl.jlog.sync()
	b, err := os.ReadFile(filepath.Join(h.cfg.LogDir, itoa(id)+".log"))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) logsOf(id int64, taskIdx *int, opts engine.LogOptions) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rc, err := h.ctl.Logs(ctx, id, taskIdx, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatalf("reading logs: %v (got %q)", err, b)
	}
	return string(b)
}

// launchesOf returns the engine's Launch calls for one job.
func (h *harness) launchesOf(id int64) []engine.Attempt {
	var out []engine.Attempt
	for _, a := range h.eng.Launches() {
		if a.Ref.JobID == id {
			out = append(out, a)
		}
	}
	return out
}

func refs(as []engine.Attempt) []engine.Ref {
	var out []engine.Ref
	for _, a := range as {
		out = append(out, a.Ref)
	}
	return out
}

func regions(as []engine.Attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Choice.Offering.Region)
	}
	return out
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// oneTask is a single-task job; mod adjusts the task (and its candidate).
func oneTask(name string, mod ...func(*task.Task)) task.DAG {
	tk := task.Task{Name: name, NumNodes: 1, Run: "echo hi", Candidates: []task.Resources{{}}}
	for _, f := range mod {
		f(&tk)
	}
	return task.DAG{Name: name, Tasks: []task.Task{tk}}
}

// withRecovery sets job_recovery on the task and its candidates.
func withRecovery(jr task.JobRecovery) func(*task.Task) {
	return func(tk *task.Task) {
		tk.Resources.JobRecovery = jr
		for i := range tk.Candidates {
			tk.Candidates[i].JobRecovery = jr
		}
	}
}

func withPriority(p int) func(*task.Task) {
	return func(tk *task.Task) { tk.Resources.Priority = p }
}

// byAttempt scripts attempt n (1-based) with scripts[n-1], the last one
// repeating.
func byAttempt(scripts ...func(engine.Attempt) []engine.Event) func(engine.Attempt) []engine.Event {
	return func(a engine.Attempt) []engine.Event {
		i := min(a.Ref.Attempt, len(scripts)) - 1
		return scripts[i](a)
	}
}

func exitWith(phase engine.Phase, code int) func(engine.Attempt) []engine.Event {
	return func(a engine.Attempt) []engine.Event { return enginetest.Exit(a, phase, code) }
}
