package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// poolFile is a pool file's DAG: setup once per worker, n workers.
func poolFile(setup string, n int) task.DAG {
	return oneTask("pooltask", func(tk *task.Task) {
		tk.Setup = setup
		tk.Run = "echo rank $SKYPILOT_JOB_RANK"
		tk.Pool = &task.PoolSpec{Workers: n}
	})
}

// holdWorkers places workers (they hold until stopped) and pool jobs (they
// run until the test ends them).
func holdWorkers(a engine.Attempt) []engine.Event { return enginetest.Place(a) }

func (h *harness) applyPool(name string, dag task.DAG) api.PoolApplyResponse {
	h.t.Helper()
	resp, err := h.ctl.ApplyPool(context.Background(), api.PoolApplyRequest{Name: name, DAG: dag, User: "alice"})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) pool(name string) api.Pool {
	h.t.Helper()
	ps, err := h.ctl.Pools(context.Background(), []string{name})
	if err != nil {
		h.t.Fatal(err)
	}
	return ps[0]
}

// waitPool waits until the pool satisfies cond (polling: a pool changes
// with the jobs of its workers, which wake no single job's waiters).
func (h *harness) waitPool(name, what string, cond func(api.Pool) bool) api.Pool {
	h.t.Helper()
	var p api.Pool
	deadline := time.Now().Add(waitTimeout)
	for {
		ps, err := h.ctl.Pools(context.Background(), []string{name})
		if err == nil {
			p = ps[0]
			if cond(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("pool %s: timed out waiting for %s; now %+v", name, what, p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) submitPool(pool string, n int) []int64 {
	h.t.Helper()
	ids, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("job"), User: "alice", Pool: pool, NumJobs: n})
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// workerLaunches are the engine's launches of pool workers.
func (h *harness) workerLaunches() []engine.Attempt {
	var out []engine.Attempt
	for _, a := range h.eng.Launches() {
		if a.IsWorker() {
			out = append(out, a)
		}
	}
	return out
}

// running returns the live attempts of pool jobs.
func (h *harness) poolJobsLive() []engine.Attempt {
	live := map[engine.Ref]bool{}
	for _, r := range h.eng.Live() {
		live[r] = true
	}
	var out []engine.Attempt
	for _, a := range h.eng.Launches() {
		if !a.IsWorker() && a.Worker != nil && live[a.Ref] {
			out = append(out, a)
		}
	}
	return out
}

func TestPoolRunsOneJobPerWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	resp := h.applyPool("p", poolFile("echo setup", 2))
	if !resp.Created || resp.Pool.Workers != 2 {
		t.Fatalf("apply: %+v", resp)
	}
	ids := h.submitPool("p", 5)
	// Visible, PENDING, while the pool provisions, with the right reason.
	h.waitPool("p", "two ready workers", func(p api.Pool) bool { return p.Ready == 2 })
	seen := map[int]int{}
	for done := 0; done < 5; {
		var live []engine.Attempt
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := h.eng.WaitFor(ctx, func() bool { live = h.poolJobsLive(); return len(live) == min(2, 5-done) })
		cancel()
		if err != nil {
			t.Fatalf("after %d jobs: %d running, want %d", done, len(live), min(2, 5-done))
		}
		if len(live) == 2 && *live[0].Worker == *live[1].Worker {
			t.Fatalf("two jobs on worker %v", live[0].Worker)
		}
		if done == 0 {
			q, err := h.ctl.Queue(context.Background(), api.QueueRequest{Pool: "p"})
			if err != nil {
				t.Fatal(err)
			}
			pending := 0
			for _, j := range q.Jobs {
				if j.Status == api.StatusPending {
					pending++
					if j.Details != "waiting for a free worker of pool p (2/2 busy)" {
						t.Errorf("job %d waits with %q", j.ID, j.Details)
					}
				}
			}
			if pending != 3 || len(q.Jobs) != 5 {
				t.Errorf("queue -p p: %d jobs, %d pending; want 5 and 3", len(q.Jobs), pending)
			}
		}
		a := live[0]
		if !a.SkipSetup || a.Task.Setup != "" {
			t.Errorf("a pool job runs setup: %+v", a.Task.Setup)
		}
		for _, e := range a.Env {
			if e.Name == "SKYPILOT_JOB_RANK" {
				seen[int(a.Ref.JobID-ids[0])]++
				if e.Value != itoa(a.Ref.JobID-ids[0]) {
					t.Errorf("job %d has rank %s", a.Ref.JobID, e.Value)
				}
			}
		}
		h.eng.Emit(engine.Event{Ref: a.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun})
		h.waitStatus(a.Ref.JobID, api.StatusSucceeded)
		done++
	}
	for r := range 5 {
		if seen[r] != 1 {
			t.Errorf("rank %d ran %d times", r, seen[r])
		}
	}
	if n := len(h.workerLaunches()); n != 2 {
		t.Errorf("%d worker launches (setups), want 2", n)
	}
}

func TestPoolJobRecoversWhenItsWorkerIsLost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("echo setup", 2))
	ids := h.submitPool("p", 1)
	var first engine.Attempt
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.eng.WaitFor(ctx, func() bool {
		live := h.poolJobsLive()
		if len(live) == 1 {
			first = live[0]
		}
		return len(live) == 1
	}); err != nil {
		t.Fatal("the job never ran")
	}
	h.waitStatus(ids[0], api.StatusRunning)
	h.eng.Emit(engine.Event{Ref: *first.Worker, Kind: engine.EventPreempted, Reason: "node down"})
	j := h.wait(ids[0], "a second attempt on another worker", func(j api.Job) bool {
		return j.Status == api.StatusRunning && j.Tasks[0].Attempt == 2
	})
	if j.Recoveries != 1 {
		t.Errorf("#RECOVERIES %d, want 1", j.Recoveries)
	}
	second := h.launchesOf(ids[0])[1]
	if *second.Worker == *first.Worker {
		t.Errorf("recovered on the lost worker %v", first.Worker)
	}
	if !slices.Contains(h.eng.Stops(), first.Ref) {
		t.Errorf("the first attempt was not stopped: stops %v", h.eng.Stops())
	}
	// The pool replaces the lost worker.
	h.waitPool("p", "the lost worker replaced", func(p api.Pool) bool { return p.Ready == 2 })
	if log := h.controllerLog(ids[0]); !strings.Contains(log, "worker "+itoa(first.Worker.JobID)+" of pool p was lost") {
		t.Errorf("controller log does not say why:\n%s", log)
	}
}

func TestPoolApplyRollsWorkersWithoutFailingRunningJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("echo v1", 2))
	ids := h.submitPool("p", 1)
	h.waitStatus(ids[0], api.StatusRunning)
	busy := h.poolJobsLive()[0]
	resp := h.applyPool("p", poolFile("echo v2", 2))
	if !resp.Rolling || resp.Pool.Version != 2 {
		t.Fatalf("apply with a new setup: %+v", resp)
	}
	// The idle worker is rolled first; the busy one waits for its job.
	p := h.waitPool("p", "a ready version-2 worker", func(p api.Pool) bool {
		for _, w := range p.Worker {
			if w.Version == 2 && w.Status == api.WorkerIdle {
				return true
			}
		}
		return false
	})
	for _, w := range p.Worker {
		if w.ID == busy.Worker.JobID && (w.Version != 1 || w.Status != api.WorkerBusy) {
			t.Errorf("the busy worker was rolled under its job: %+v", w)
		}
	}
	if p.Status != api.PoolUpdating {
		t.Errorf("pool status %s while rolling", p.Status)
	}
	h.eng.Emit(engine.Event{Ref: busy.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun})
	if j := h.waitTerminal(ids[0]); j.Status != api.StatusSucceeded {
		t.Errorf("the running job ended %s", j.Status)
	}
	p = h.waitPool("p", "every worker at version 2", func(p api.Pool) bool {
		n := 0
		for _, w := range p.Worker {
			if w.Version == 2 && w.Status == api.WorkerIdle {
				n++
			}
		}
		return n == 2 && len(p.Worker) == 2
	})
	if p.Status != api.PoolReady {
		t.Errorf("pool status %s after the roll", p.Status)
	}
	var setups []string
	for _, a := range h.workerLaunches() {
		setups = append(setups, a.Task.Setup)
	}
	if want := []string{"echo v1", "echo v1", "echo v2", "echo v2"}; !slices.Equal(setups, want) {
		t.Errorf("worker setups %v, want %v", setups, want)
	}
	// A new job runs on a version-2 worker.
	more := h.submitPool("p", 1)
	h.waitStatus(more[0], api.StatusRunning)
}

func TestPoolFailsAfterRepeatedSetupFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(func(a engine.Attempt) []engine.Event { return enginetest.Exit(a, engine.PhaseSetup, 3) })
	h.applyPool("p", poolFile("exit 3", 1))
	ids := h.submitPool("p", 2)
	p := h.waitPool("p", "FAILED", func(p api.Pool) bool { return p.Status == api.PoolFailed })
	if !strings.Contains(p.FailureReason, "setup failed with exit code 3 (3 tries)") {
		t.Errorf("failure reason %q", p.FailureReason)
	}
	if len(p.Worker) != 1 || p.Worker[0].Status != api.WorkerFailed || p.Worker[0].SetupExitCode == nil || *p.Worker[0].SetupExitCode != 3 {
		t.Errorf("the failed worker is not shown with its exit code: %+v", p.Worker)
	}
	for _, id := range ids {
		j := h.waitTerminal(id)
		if j.Status != api.StatusFailedPrechecks || !strings.Contains(j.FailureReason, "pool p FAILED") {
			t.Errorf("job %d: %s (%s), want FAILED_PRECHECKS naming the pool", id, j.Status, j.FailureReason)
		}
	}
	if n := len(h.workerLaunches()); n != workerSetupTries {
		t.Errorf("%d setups, want %d (then no more)", n, workerSetupTries)
	}
	if _, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("x"), Pool: "p"}); !IsConflict(err) {
		t.Errorf("submit to a FAILED pool: %v", err)
	}
	// Applying a fixed setup brings it back.
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("true", 1))
	h.waitPool("p", "READY after a fix", func(p api.Pool) bool { return p.Status == api.PoolReady })
}

func TestPoolDownCancelsJobsAndStopsWorkers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("true", 2))
	ids := h.submitPool("p", 3)
	h.waitStatus(ids[0], api.StatusRunning)
	resp, err := h.ctl.DownPool(context.Background(), api.PoolDownRequest{Names: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resp.Cancelled, ids) {
		t.Errorf("cancelled %v, want %v", resp.Cancelled, ids)
	}
	for _, id := range ids {
		if j := h.waitTerminal(id); j.Status != api.StatusCancelled {
			t.Errorf("job %d: %s", id, j.Status)
		}
	}
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if _, err := h.ctl.Pools(context.Background(), []string{"p"}); IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool is still there")
		}
	}
	if live := h.eng.Live(); len(live) != 0 {
		t.Errorf("left running: %v", live)
	}
	if _, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("x"), Pool: "p"}); !IsNotFound(err) {
		t.Errorf("submit to a pool taken down: %v", err)
	}
}

func TestPoolJobsSurviveAControllerRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("true", 1))
	ids := h.submitPool("p", 2)
	h.waitStatus(ids[0], api.StatusRunning)
	h.restart()
	h.waitPool("p", "the worker re-attached", func(p api.Pool) bool { return p.Busy == 1 })
	j := h.waitStatus(ids[0], api.StatusRunning)
	if j.Tasks[0].Attempt != 1 {
		t.Errorf("attempt %d after a restart, want 1", j.Tasks[0].Attempt)
	}
	if n := len(h.workerLaunches()); n != 1 {
		t.Errorf("%d worker launches after a restart, want 1", n)
	}
	if q, _ := h.ctl.Job(context.Background(), ids[1]); q.Status != api.StatusPending ||
		q.Details != "waiting for a free worker of pool p (1/1 busy)" {
		t.Errorf("second job: %s %q", q.Status, q.Details)
	}
	live := h.poolJobsLive()
	h.eng.Emit(engine.Event{Ref: live[0].Ref, Kind: engine.EventExited, Phase: engine.PhaseRun})
	h.waitStatus(ids[0], api.StatusSucceeded)
	h.waitStatus(ids[1], api.StatusRunning)
}

func TestPoolJobMustFitAWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	h.applyPool("p", poolFile("true", 1))
	big := oneTask("big", func(tk *task.Task) {
		tk.Candidates = []task.Resources{{CPUs: &task.Quantity{Value: 4096}}}
		tk.Resources = tk.Candidates[0]
	})
	_, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: big, Pool: "p"})
	if !IsInvalid(err) || !strings.Contains(err.Error(), "cpus 4096 (the worker has") {
		t.Errorf("a job bigger than a worker: %v", err)
	}
}

// restart crashes the controller and starts another on the same store and
// engine, as restart_test.go does.
func (h *harness) restart() {
	h.t.Helper()
	h.cancel()
	<-h.ctl.done
	q := NewEventQueue()
	h.eng.SetSink(q.Sink)
	h.cfg.Events = q
	h.start()
}

// TestPoolJobWhoseWorkerIsGoneAtLaunch: an engine that finds the worker
// gone when the job launches (Nomad saw the node die first, and has not
// reported the worker's own loss yet) gets the job moved to another
// worker, without a launch retry counted, and the gone worker is not given
// to a job again (it still looks ready).
func TestPoolJobWhoseWorkerIsGoneAtLaunch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(holdWorkers)
	var mu sync.Mutex
	var gone engine.Ref
	h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		mu.Lock()
		defer mu.Unlock()
		if a.Worker != nil && gone == (engine.Ref{}) {
			gone = *a.Worker
		}
		if a.Worker != nil && *a.Worker == gone {
			return fmt.Errorf("pool worker %s is gone: node down: %w", a.Worker, engine.ErrNotFound)
		}
		return nil
	})
	h.applyPool("p", poolFile("true", 2))
	h.waitPool("p", "both workers ready", func(p api.Pool) bool { return p.Ready == 2 })
	ids := h.submitPool("p", 1)
	j := h.waitStatus(ids[0], api.StatusRunning)
	if j.Tasks[0].Attempt != 2 || j.Recoveries != 0 {
		t.Errorf("attempt %d, recoveries %d; want the second attempt, no recovery", j.Tasks[0].Attempt, j.Recoveries)
	}
	mu.Lock()
	defer mu.Unlock()
	// The engine records the launches it accepted: the second attempt's.
	if ls := h.launchesOf(ids[0]); len(ls) != 1 || *ls[0].Worker == gone {
		t.Errorf("launches %v; want the second attempt's, beside another worker than the gone %v", refs(ls), gone)
	}
	if !strings.Contains(h.controllerLog(ids[0]), "waiting for another worker") {
		t.Errorf("controller log:\n%s", h.controllerLog(ids[0]))
	}
}
