package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// Behavior is what a task the suite launches does.
type Behavior int

const (
	// Hello prints Output and exits 0.
	Hello Behavior = iota
	// RunExits7 has a run that exits 7.
	RunExits7
	// SetupExits3 has a setup that exits 3, so its run never starts.
	SetupExits3
	// RunsUntilStopped runs until it is stopped or preempted.
	RunsUntilStopped
)

// Output is what a Hello task prints.
const Output = "hello"

func (b Behavior) String() string {
	switch b {
	case Hello:
		return "hello"
	case RunExits7:
		return "run exits 7"
	case SetupExits3:
		return "setup exits 3"
	case RunsUntilStopped:
		return "runs until stopped"
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// Script is the bash an engine that runs tasks gets for b.
func Script(b Behavior) (setup, run string) {
	switch b {
	case Hello:
		return "", "echo " + Output
	case RunExits7:
		return "", "exit 7"
	case SetupExits3:
		return "exit 3", "echo the run of a failed setup"
	case RunsUntilStopped:
		return "", "echo started; sleep 600"
	}
	panic(fmt.Sprintf("enginetest: unknown behavior %d", int(b)))
}

// ThisHost is a placement on this host's offering (catalog.LocalCloud):
// the local engine's only one, and on Nomad any node (no node class).
var ThisHost = catalog.Choice{Offering: catalog.Offering{
	Cloud: catalog.LocalCloud, Region: catalog.LocalCloud, InstanceType: catalog.LocalCloud,
}}

// TaskName names every task the suite launches.
const TaskName = "conformance"

// ShellAttempt is attempt ref of a one-node task running b's Script on
// ThisHost, built as the controller builds attempts (engine.NewAttempt).
func ShellAttempt(ref engine.Ref, b Behavior) *engine.Attempt {
	setup, run := Script(b)
	t := task.Task{Name: TaskName, NumNodes: 1, Setup: setup, Run: run}
	t.Candidates = []task.Resources{t.Resources}
	dag := task.DAG{Name: TaskName, Tasks: make([]task.Task, ref.Task+1)}
	dag.Tasks[ref.Task] = t
	job := task.JobInfo{ID: ref.JobID, Name: TaskName, Submitted: time.Now()}
	return engine.NewAttempt(dag, job, ref, ThisHost)
}

// Harness gives the suite what it needs of one engine.
type Harness struct {
	// Start returns a new engine whose events go to sink. The harness
	// cleans it up when the test ends (t.Cleanup).
	Start func(t *testing.T, sink engine.Sink) engine.Engine
	// Attempt builds attempt ref running b. Default: ShellAttempt.
	Attempt func(t *testing.T, ref engine.Ref, b Behavior) *engine.Attempt
	// Restart, if set, returns a new engine over the state of old, as a
	// restarted controller builds it; old is not used again. It enables
	// the Resume-after-restart case.
	Restart func(t *testing.T, old engine.Engine, sink engine.Sink) engine.Engine
	// Timeout bounds each wait for an event (default 2 minutes).
	Timeout time.Duration
}

// Run checks the engine contract of package engine on the harness's
// engine, one subtest per rule. Every case starts its own engine and uses
// job ids no earlier run used (an engine on a shared Nomad agent keeps
// jobs across runs).
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Start == nil {
		t.Fatal("enginetest: Harness.Start is required")
	}
	if h.Attempt == nil {
		h.Attempt = func(_ *testing.T, ref engine.Ref, b Behavior) *engine.Attempt { return ShellAttempt(ref, b) }
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Minute
	}
	s := &suite{h: h}
	s.nextJob.Store(time.Now().UnixMicro())

	t.Run("success reports Running then Exited run 0, and the output", s.success)
	t.Run("run exit code", s.runExit)
	t.Run("setup exit code, and no Running", s.setupExit)
	t.Run("Stop ends a running attempt, and again is no error", s.stop)
	t.Run("Launch twice with one Ref runs once", s.launchTwice)
	t.Run("Resume of an unknown attempt is ErrNotFound", s.resumeUnknown)
	t.Run("Resume after a restart reports the end again", func(t *testing.T) {
		if h.Restart == nil {
			t.Skip("the harness cannot restart its engine")
		}
		s.resumeAfterRestart(t)
	})
	t.Run("Preempt ends the attempt Preempted", s.preempt)
}

type suite struct {
	h       Harness
	nextJob atomic.Int64
}

// env is one case's engine and its events.
type env struct {
	t   *testing.T
	s   *suite
	eng engine.Engine
	rec *Recorder
	ctx context.Context
}

func (s *suite) env(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.h.Timeout)
	t.Cleanup(cancel)
	rec := NewRecorder()
	return &env{t: t, s: s, eng: s.h.Start(t, rec.Sink), rec: rec, ctx: ctx}
}

// attempt builds attempt 1 of task 0 of a new job running b.
func (e *env) attempt(b Behavior) *engine.Attempt {
	e.t.Helper()
	ref := engine.Ref{JobID: e.s.nextJob.Add(1), Task: 0, Attempt: 1}
	return e.s.h.Attempt(e.t, ref, b)
}

// launch launches a new attempt running b.
func (e *env) launch(b Behavior) *engine.Attempt {
	e.t.Helper()
	a := e.attempt(b)
	if err := e.eng.Launch(e.ctx, a); err != nil {
		e.t.Fatalf("Launch(%s, %s): %v", a.Ref, b, err)
	}
	return a
}

// wait waits for the first event of kind for ref.
func (e *env) wait(ref engine.Ref, kind engine.EventKind) engine.Event {
	e.t.Helper()
	return e.rec.Wait(e.t, ref, kind, e.s.h.Timeout)
}

func (e *env) logs(ref engine.Ref) string {
	e.t.Helper()
	rc, err := e.eng.Logs(e.ctx, ref, engine.LogOptions{})
	if err != nil {
		e.t.Fatalf("Logs(%s): %v", ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatalf("Logs(%s): reading: %v (got %q)", ref, err, b)
	}
	return string(b)
}

// wantExit checks an Exited event's phase and code.
func wantExit(t *testing.T, ev engine.Event, phase engine.Phase, code int) {
	t.Helper()
	if ev.Phase != phase || ev.ExitCode != code {
		t.Errorf("Exited in phase %q with code %d (%s), want phase %q with code %d", ev.Phase, ev.ExitCode, ev.Reason, phase, code)
	}
}

func (s *suite) success(t *testing.T) {
	e := s.env(t)
	a := e.launch(Hello)
	exited := e.wait(a.Ref, engine.EventExited)
	wantExit(t, exited, engine.PhaseRun, 0)
	evs := e.rec.Events(a.Ref)
	running, ended := index(evs, engine.EventRunning), index(evs, engine.EventExited)
	if running < 0 || running > ended {
		t.Errorf("events %v: want Running before the first Exited", kinds(evs))
	}
	if logs := e.logs(a.Ref); !strings.Contains(logs, Output) {
		t.Errorf("logs %q lack the task's output %q", logs, Output)
	}
}

func (s *suite) runExit(t *testing.T) {
	e := s.env(t)
	a := e.launch(RunExits7)
	wantExit(t, e.wait(a.Ref, engine.EventExited), engine.PhaseRun, 7)
}

func (s *suite) setupExit(t *testing.T) {
	e := s.env(t)
	a := e.launch(SetupExits3)
	wantExit(t, e.wait(a.Ref, engine.EventExited), engine.PhaseSetup, 3)
	if evs := e.rec.Events(a.Ref); index(evs, engine.EventRunning) >= 0 {
		t.Errorf("events %v: a Running event for an attempt whose setup failed", kinds(evs))
	}
}

func (s *suite) stop(t *testing.T) {
	e := s.env(t)
	a := e.launch(RunsUntilStopped)
	e.wait(a.Ref, engine.EventRunning)
	if err := e.eng.Stop(e.ctx, a.Ref); err != nil {
		t.Fatalf("Stop(%s) of a running attempt: %v", a.Ref, err)
	}
	e.wait(a.Ref, engine.EventStopped)
	if evs := e.rec.Events(a.Ref); index(evs, engine.EventExited) >= 0 {
		t.Errorf("events %v: a stopped attempt reported Exited", kinds(evs))
	}
	if err := e.eng.Stop(e.ctx, a.Ref); err != nil {
		t.Errorf("Stop(%s) again: %v, want no error", a.Ref, err)
	}
	unknown := e.attempt(Hello)
	if err := e.eng.Stop(e.ctx, unknown.Ref); err != nil {
		t.Errorf("Stop(%s) of an attempt never launched: %v, want no error", unknown.Ref, err)
	}
}

func (s *suite) launchTwice(t *testing.T) {
	e := s.env(t)
	a := e.launch(Hello)
	if err := e.eng.Launch(e.ctx, a); err != nil {
		t.Fatalf("second Launch(%s): %v", a.Ref, err)
	}
	wantExit(t, e.wait(a.Ref, engine.EventExited), engine.PhaseRun, 0)
	if logs := e.logs(a.Ref); strings.Count(logs, Output) != 1 {
		t.Errorf("logs %q hold the output %q %d times, want once", logs, Output, strings.Count(logs, Output))
	}
}

func (s *suite) resumeUnknown(t *testing.T) {
	e := s.env(t)
	a := e.attempt(Hello)
	if err := e.eng.Resume(e.ctx, a); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Resume(%s) of an attempt never launched: %v, want engine.ErrNotFound", a.Ref, err)
	}
}

func (s *suite) resumeAfterRestart(t *testing.T) {
	e := s.env(t)
	a := e.launch(RunExits7)
	wantExit(t, e.wait(a.Ref, engine.EventExited), engine.PhaseRun, 7)

	rec := NewRecorder()
	eng := s.h.Restart(t, e.eng, rec.Sink)
	if err := eng.Resume(e.ctx, a); err != nil {
		t.Fatalf("Resume(%s) after a restart: %v", a.Ref, err)
	}
	wantExit(t, rec.Wait(t, a.Ref, engine.EventExited, s.h.Timeout), engine.PhaseRun, 7)
}

func (s *suite) preempt(t *testing.T) {
	e := s.env(t)
	p, ok := e.eng.(engine.Preempter)
	if !ok {
		t.Skipf("the %s engine is no engine.Preempter", e.eng.Name())
	}
	a := e.launch(RunsUntilStopped)
	e.wait(a.Ref, engine.EventRunning)
	if err := p.Preempt(e.ctx, a.Ref, 0); err != nil {
		t.Fatalf("Preempt(%s): %v", a.Ref, err)
	}
	e.wait(a.Ref, engine.EventPreempted)
}

// index is the position of the first event of kind, or -1.
func index(evs []engine.Event, kind engine.EventKind) int {
	for i, ev := range evs {
		if ev.Kind == kind {
			return i
		}
	}
	return -1
}

func kinds(evs []engine.Event) []engine.EventKind {
	out := make([]engine.EventKind, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind
	}
	return out
}
