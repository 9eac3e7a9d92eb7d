package browsertest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/internal/syncbuf"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// waitTimeout bounds every wait on the controller.
const waitTimeout = 15 * time.Second

// The jobs of a world, by name: one in each status (two RUNNING).
const (
	// jobXSS succeeds; its name is HTML that would run if the pages did
	// not escape it.
	jobXSS         = "<script>alert(1)</script>"
	jobFailed      = "etl-failed"      // FAILED: run exits 1
	jobSetupFailed = "setup-broken"    // FAILED_SETUP: setup exits 1
	jobPrechecks   = "needs-h100"      // FAILED_PRECHECKS: no offering has its GPU
	jobNoResource  = "no-capacity"     // FAILED_NO_RESOURCE: every launch finds no room
	jobController  = "engine-fault"    // FAILED_CONTROLLER: the engine contradicts itself
	jobCancelled   = "stopped-by-user" // CANCELLED: cancelled while running
	jobTrain       = "train-spot"      // RUNNING: preempted once, running its attempt 2, printing
	jobServe       = "serve-api"       // RUNNING: plain
	jobCancelling  = "draining"        // CANCELLING: its attempt's Stop hangs
	jobRecovering  = "spot-recovering" // RECOVERING: preempted, its relaunch hangs
	jobStarting    = "warming-up"      // STARTING: its launch hangs until released
	jobPending     = "queued-last"     // PENDING: every launch slot is taken
	logHTML        = "<img src=x onerror=alert(2)>"
	maxLaunching   = 2 // held by jobRecovering and jobStarting
)

// offerings are what the catalog plans over: one instance type in two
// regions, so a preempted job recovers in the other one.
var offerings = []catalog.Offering{
	{Cloud: "aws", Region: "us-east-1", Zones: []string{"us-east-1a", "us-east-1b"}, InstanceType: "m6i.large",
		VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.096, SpotPrice: 0.035},
	{Cloud: "aws", Region: "us-west-2", Zones: []string{"us-west-2a", "us-west-2b"}, InstanceType: "m6i.large",
		VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.096, SpotPrice: 0.038},
}

// A play is what the fake engine does with one job's attempts.
type play struct {
	user string
	spot bool
	gpu  string // an accelerator to ask for ("": none)
	// scripts[n-1] is what attempt n plays; the last one repeats.
	scripts []func(engine.Attempt) []engine.Event
	// holdFrom > 0 holds the launches of attempts from that number on
	// until the test releases them (or ends).
	holdFrom int
	// holdStop makes every Stop of the job's attempts hang until the
	// test ends.
	holdStop bool
}

// world is a controller holding a job in every status, with the engine
// that runs them under the test's control.
type world struct {
	t    *testing.T
	ctx  context.Context // ends when the test ends: every held call returns
	ctrl *jobs.Controller
	eng  *enginetest.Fake
	logs *syncbuf.Buffer

	plays   map[string]play
	stop    context.CancelFunc // ends ctx
	mu      sync.Mutex
	ids     map[string]int64 // by job name; the engine's hooks read it
	holds   map[string]*hold // launches held, by job name
	stopped *hold            // jobCancelling's Stop
	streams *streams         // the dashboard's live connections (serve)
	want    map[string]api.Status
}

// hold is a held engine call: entered closes when it starts waiting, and it
// returns what is sent on release.
type hold struct {
	once    sync.Once
	entered chan struct{}
	release chan error
}

func newHold() *hold { return &hold{entered: make(chan struct{}), release: make(chan error, 1)} }

func (h *hold) wait(ctx, callCtx context.Context) error {
	h.once.Do(func() { close(h.entered) })
	select {
	case err := <-h.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-callCtx.Done():
		return callCtx.Err()
	}
}

// newWorld starts a controller and drives it until it holds the jobs of the
// constants above in their statuses.
func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q := jobs.NewEventQueue()
	w := &world{
		t: t, eng: enginetest.NewFake(q.Sink), logs: &syncbuf.Buffer{},
		ids: map[string]int64{}, stopped: newHold(), want: map[string]api.Status{},
		plays: map[string]play{
			jobXSS:         {user: "alice", scripts: scripts(enginetest.Succeed)},
			jobFailed:      {user: "bob", scripts: scripts(exit(engine.PhaseRun, 1))},
			jobSetupFailed: {user: "alice", scripts: scripts(exit(engine.PhaseSetup, 1))},
			jobPrechecks:   {user: "alice", gpu: "H100"},
			jobNoResource:  {user: "alice", spot: true, scripts: scripts(enginetest.NoCap)},
			jobController:  {user: "alice", holdFrom: 1},
			jobCancelled:   {user: "alice", scripts: scripts(enginetest.Place)},
			jobTrain:       {user: "alice", spot: true, scripts: scripts(enginetest.Preempted, enginetest.Place)},
			jobServe:       {user: "bob", scripts: scripts(enginetest.Place)},
			jobCancelling:  {user: "alice", scripts: scripts(enginetest.Place), holdStop: true},
			jobRecovering:  {user: "alice", spot: true, scripts: scripts(enginetest.Preempted, enginetest.Place), holdFrom: 2},
			jobStarting:    {user: "alice", scripts: scripts(enginetest.Place), holdFrom: 1},
			jobPending:     {user: "alice", scripts: scripts(enginetest.Place)},
		},
	}
	w.holds = map[string]*hold{}
	for name, p := range w.plays {
		if p.holdFrom > 0 {
			w.holds[name] = newHold()
		}
	}
	w.eng.SetScript(func(a engine.Attempt) []engine.Event {
		s := w.plays[a.JobName].scripts
		if len(s) == 0 {
			return nil
		}
		return s[min(a.Ref.Attempt, len(s))-1](a)
	})
	w.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		if p := w.plays[a.JobName]; p.holdFrom > 0 && a.Ref.Attempt >= p.holdFrom {
			return w.holds[a.JobName].wait(w.ctx, ctx)
		}
		return nil
	})
	w.eng.SetStopHook(func(ctx context.Context, ref engine.Ref) error {
		if ref.JobID == w.id(jobCancelling) {
			return w.stopped.wait(w.ctx, ctx)
		}
		return nil
	})

	ctrl, err := jobs.New(jobs.Config{
		Store: st, Engine: w.eng, Events: q, Planner: catalog.New(offerings),
		LogDir: filepath.Join(dir, "logs"), Version: "browsertest",
		MaxLaunching: maxLaunching, MaxLaunchRetries: 2,
		RetryBackoff:  jobs.Backoff{Initial: 5 * time.Millisecond, Factor: 1, Max: 5 * time.Millisecond},
		LogDrainGrace: 100 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.ctrl = ctrl
	t.Cleanup(func() {
		ctrl.Stop()
		if t.Failed() {
			t.Logf("controller log:\n%s", w.logs.String())
		}
	})
	// Registered after ctrl.Stop, so it runs first: the held engine calls
	// return before the controller waits for them.
	w.ctx, w.stop = context.WithCancel(context.Background())
	t.Cleanup(w.stop)
	w.build()
	return w
}

// build submits the jobs one after the other, each once the one before is
// where it should be: the held launches take both launch slots last, so
// jobPending, submitted after them, waits.
func (w *world) build() {
	t := w.t
	t.Helper()
	for _, name := range []string{jobXSS, jobFailed, jobSetupFailed, jobNoResource} {
		w.submit(name)
	}
	w.waitFor(jobXSS, api.StatusSucceeded)
	w.waitFor(jobFailed, api.StatusFailed)
	w.waitFor(jobSetupFailed, api.StatusFailedSetup)
	w.waitFor(jobNoResource, api.StatusFailedNoResource)

	// Nothing has an H100: the controller refuses it at submission.
	w.submit(jobPrechecks)
	w.waitFor(jobPrechecks, api.StatusFailedPrechecks)

	// The engine reports the attempt running while its Launch call is
	// still under way, then answers that call: infeasible. The controller
	// cannot end a RUNNING task FAILED_PRECHECKS (no such transition), and
	// ends the job FAILED_CONTROLLER.
	id := w.submit(jobController)
	w.entered(jobController)
	ref := engine.Ref{JobID: id, Task: 0, Attempt: 1}
	w.eng.Emit(engine.Event{Ref: ref, Kind: engine.EventPlaced, Node: "node-us-east-1"})
	w.eng.Emit(engine.Event{Ref: ref, Kind: engine.EventRunning})
	w.waitFor(jobController, api.StatusRunning)
	w.holds[jobController].release <- engine.Infeasible("instance type m6i.large is gone from node pool default")
	w.waitFor(jobController, api.StatusFailedController)

	w.submit(jobCancelled)
	w.waitFor(jobCancelled, api.StatusRunning)
	w.cancel(jobCancelled)
	w.waitFor(jobCancelled, api.StatusCancelled)

	w.submit(jobTrain)
	w.wait(jobTrain, "RUNNING its attempt 2", func(j api.Job) bool {
		return j.Status == api.StatusRunning && j.Tasks[0].Attempt == 2
	})
	w.want[jobTrain] = api.StatusRunning
	w.printLogs(engine.Ref{JobID: w.id(jobTrain), Task: 0, Attempt: 2})

	w.submit(jobServe)
	w.waitFor(jobServe, api.StatusRunning)

	w.submit(jobCancelling)
	w.waitFor(jobCancelling, api.StatusRunning)
	w.cancel(jobCancelling)
	w.waitFor(jobCancelling, api.StatusCancelling)
	w.await(w.stopped.entered, jobCancelling+"'s Stop call")

	w.submit(jobRecovering)
	w.entered(jobRecovering)
	w.waitFor(jobRecovering, api.StatusRecovering)

	w.submit(jobStarting)
	w.entered(jobStarting)
	w.waitFor(jobStarting, api.StatusStarting)

	w.submit(jobPending)
	w.waitFor(jobPending, api.StatusPending)

	// Nothing moved meanwhile.
	for name, want := range w.want {
		if j := w.job(name); j.Status != want {
			t.Fatalf("job %d (%s) is %s, want %s", j.ID, name, j.Status, want)
		}
	}
	if len(w.want) != len(w.plays) {
		t.Fatalf("%d jobs have a status to hold, %d were scripted", len(w.want), len(w.plays))
	}
}

// submit submits the named job and returns its id.
func (w *world) submit(name string) int64 {
	w.t.Helper()
	p := w.plays[name]
	res := task.Resources{InstanceType: "m6i.large", UseSpot: p.spot}
	if p.gpu != "" {
		res = task.Resources{Accelerators: []task.Accelerator{{Name: p.gpu, Count: 8}}}
	}
	tk := task.Task{Name: name, NumNodes: 1, Setup: "pip install -r requirements.txt", Run: "python main.py",
		Resources: res, Candidates: []task.Resources{res}}
	ids, err := w.ctrl.Submit(w.ctx, api.LaunchRequest{DAG: task.DAG{Name: name, Tasks: []task.Task{tk}}, User: p.user})
	if err != nil {
		w.t.Fatalf("submitting %s: %v", name, err)
	}
	w.mu.Lock()
	w.ids[name] = ids[0]
	w.mu.Unlock()
	return ids[0]
}

// id is the named job's id (0 before it is submitted).
func (w *world) id(name string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ids[name]
}

func (w *world) cancel(name string) {
	w.t.Helper()
	if _, err := w.ctrl.Cancel(w.ctx, api.CancelRequest{JobIDs: []int64{w.id(name)}}); err != nil {
		w.t.Fatalf("cancelling %s: %v", name, err)
	}
}

// release lets the held launch of the named job return err.
func (w *world) release(name string, err error) { w.holds[name].release <- err }

// entered waits until the named job's launch is held.
func (w *world) entered(name string) {
	w.t.Helper()
	w.await(w.holds[name].entered, name+"'s held launch")
}

func (w *world) await(ch <-chan struct{}, what string) {
	w.t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		w.t.Fatalf("timed out waiting for %s", what)
	}
}

func (w *world) job(name string) api.Job {
	w.t.Helper()
	j, err := w.ctrl.Job(w.ctx, w.id(name))
	if err != nil {
		w.t.Fatalf("job %s: %v", name, err)
	}
	return j
}

// waitFor waits until the named job is in status, and records that it
// should stay there.
func (w *world) waitFor(name string, status api.Status) api.Job {
	w.t.Helper()
	w.want[name] = status
	return w.wait(name, string(status), func(j api.Job) bool { return j.Status == status })
}

// wait polls the controller until the named job satisfies cond.
func (w *world) wait(name, what string, cond func(api.Job) bool) api.Job {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, waitTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := w.ctrl.Job(ctx, w.id(name))
		if err == nil && cond(j) {
			return j
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			w.t.Fatalf("job %d (%s): timed out waiting for %s; now %s (%s), err %v",
				w.id(name), name, what, j.Status, j.FailureReason, err)
		}
	}
}

// printLogs writes the HTML line and then a numbered line every 200 ms to
// the attempt's log, until the test ends.
func (w *world) printLogs(ref engine.Ref) {
	w.eng.Print(ref, "epoch 1: loading data\n"+logHTML+"\n")
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-w.ctx.Done():
				return
			case <-tick.C:
			}
			w.eng.Print(ref, fmt.Sprintf("step %04d loss %.4f\n", n, 2/float64(n+1)))
		}
	}()
	w.t.Cleanup(func() {
		w.stop()
		<-done
	})
}

// tickLine matches the numbered lines printLogs writes (in JavaScript).
const tickLine = `/step \d{4} loss/g`

func scripts(s ...func(engine.Attempt) []engine.Event) []func(engine.Attempt) []engine.Event {
	return s
}

func exit(phase engine.Phase, code int) func(engine.Attempt) []engine.Event {
	return func(a engine.Attempt) []engine.Event { return enginetest.Exit(a, phase, code) }
}
