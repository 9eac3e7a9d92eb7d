package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// The test binary doubles as the runner: `<test binary> driver --phase all`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "driver" {
		os.Exit(driver.Main(context.Background(), os.Args[2:], os.Environ(), os.Stdout, os.Stderr, nil))
	}
	os.Exit(m.Run())
}

// recorder collects events and lets tests wait for them.
type recorder struct {
	mu     sync.Mutex
	events []engine.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) sink(ev engine.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) kinds() []engine.EventKind {
	var out []engine.EventKind
	for _, ev := range r.all() {
		out = append(out, ev.Kind)
	}
	return out
}

// wait returns the first event of kind, waiting up to timeout.
func (r *recorder) wait(t *testing.T, kind engine.EventKind, timeout time.Duration) engine.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, ev := range r.all() {
			if ev.Kind == kind {
				return ev
			}
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no %s event within %v; got %v", kind, timeout, r.kinds())
		}
	}
}

type testEngine struct {
	*Engine
	rec *recorder
	dir string
}

func newTestEngine(t *testing.T, dir string, tweak ...func(*Config)) *testEngine {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	rec := newRecorder()
	cfg := Config{
		Dir:           dir,
		RunnerCommand: []string{self, "driver"},
		Sink:          rec.sink,
		Grace:         2 * time.Second,
		PollInterval:  20 * time.Millisecond,
		HostCPUs:      4,
		HostMemoryGB:  16,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		// Never leave processes behind, whatever the test did.
		entries, _ := os.ReadDir(filepath.Join(e.cfg.Dir, "attempts"))
		for _, en := range entries {
			a := &attempt{dir: filepath.Join(e.cfg.Dir, "attempts", en.Name()), nodes: 8}
			e.killAll(context.Background(), a)
		}
	})
	return &testEngine{Engine: e, rec: rec, dir: dir}
}

var nextJob = struct {
	sync.Mutex
	n int64
}{}

// newAttempt builds an attempt of a task named name with fresh ids.
func newTestAttempt(name, setup, run string, nodes int, env ...string) *engine.Attempt {
	nextJob.Lock()
	nextJob.n++
	id := nextJob.n
	nextJob.Unlock()
	at := &engine.Attempt{
		Ref:     engine.Ref{JobID: id, Task: 0, Attempt: 1},
		JobName: name,
		Task:    task.Task{Name: name, NumNodes: nodes, Setup: setup, Run: run},
		Env: []task.EnvVar{
			{Name: "SKYPILOT_TASK_ID", Value: fmt.Sprintf("sky-managed-test_%s_%d-0", name, id)},
			{Name: "SKYPILOT_NUM_NODES", Value: fmt.Sprint(nodes)},
		},
	}
	for i := 0; i+1 < len(env); i += 2 {
		at.Env = append(at.Env, task.EnvVar{Name: env[i], Value: env[i+1]})
	}
	return at
}

// markedProcs scans /proc for live processes that carry the attempt's
// marker variable.
func markedProcs(t *testing.T, e *testEngine, ref engine.Ref) []int {
	t.Helper()
	want := attemptMarker + "=" + e.attemptDir(ref)
	all, err := proc.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range all {
		if p.Zombie() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(string(env), "\x00"), want) {
			out = append(out, p.PID)
		}
	}
	return out
}

// runners lists the live runners running the attempt's nodes: the pids
// of the nodes' pid files (a runner leaves them while it runs the node)
// that are alive and the same process.
func runners(t *testing.T, e *testEngine, ref engine.Ref) []int {
	t.Helper()
	var out []int
	dirs, _ := filepath.Glob(filepath.Join(e.attemptDir(ref), "node-*"))
	for _, d := range dirs {
		if p, ok := readRunnerPID(d); ok && proc.Alive(p.pid, p.ticks) && lockHeld(filepath.Join(d, lockFile)) {
			out = append(out, p.pid)
		}
	}
	return out
}

func readLogs(t *testing.T, e *testEngine, ref engine.Ref, opts engine.LogOptions) string {
	t.Helper()
	rc, err := e.Logs(context.Background(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var pidRE = regexp.MustCompile(`pid=\d+`)

func normalize(s string) string { return pidRE.ReplaceAllString(s, "pid=N") }

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logsContain(t *testing.T, e *testEngine, ref engine.Ref, s string) func() bool {
	return func() bool { return strings.Contains(readLogs(t, e, ref, engine.LogOptions{}), s) }
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	info, err := proc.Stat(pid)
	return err == nil && !info.Zombie()
}
