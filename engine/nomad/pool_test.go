package nomad

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
	"github.com/skynomad/skynomad/task"
)

// Worker pools on the Nomad engine: a worker is an attempt of its own, a
// job submitted to the pool an attempt placed beside it. The faults here
// (a worker not there yet or gone, a node going down under both) run on
// nomadfake; a worker and its job on the real agent are in
// real_pool_test.go.

// poolWorker is attempt n of the worker of pool pool, the controller's
// internal job jobID, placed on any node.
func poolWorker(jobID int64, n int, pool string) *engine.Attempt {
	a := attempt(jobID, n, "echo setup", "ignored: a worker runs engine.WorkerRun", 1)
	a.JobName, a.Pool = pool, pool
	a.Task.Pool = &task.PoolSpec{Workers: 1}
	return a
}

// poolJob is attempt n of job jobID submitted to pool, to run beside the
// worker attempt worker.
func poolJob(jobID int64, n int, pool string, worker engine.Ref) *engine.Attempt {
	a := attempt(jobID, n, "echo the worker ran it", "echo job", 1)
	a.Pool, a.SkipSetup, a.Worker = pool, true, &worker
	return a
}

// TestPoolJobLaunchesBesideItsWorker: a job is registered only once its
// worker runs (setup done), pinned to the worker's node and naming the
// worker's alloc; before, Launch fails for the controller to retry.
func TestPoolJobLaunchesBesideItsWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	w := poolWorker(1, 1, "gpus")
	job := poolJob(2, 1, "gpus", w.Ref)
	notYet := func(what string) {
		t.Helper()
		err := h.eng.Launch(t.Context(), job)
		if err == nil || errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), what) {
			t.Errorf("launch with the worker %s: %v; want an error to retry", what, err)
		}
	}

	h.launch(t, w)
	walloc := h.allocOf(t, w.Ref)
	notYet("not running yet")
	must(t, h.fake.StartTasks(walloc)) // setup runs
	h.rec.wait(t, w.Ref, engine.EventSetupStarted)
	notYet("not ready yet")
	if got := h.fake.Job(JobID(job.Ref)); got != nil {
		t.Fatalf("the job was registered before its worker ran")
	}

	must(t, h.fake.ExitTask(walloc, taskSetup, 0)) // the worker runs
	h.rec.wait(t, w.Ref, engine.EventRunning)
	h.launch(t, job)
	registered := h.fake.Job(JobID(job.Ref))
	g := registered.TaskGroups[0]
	node := h.fake.Alloc(walloc).NodeID
	if len(g.Constraints) != 1 || g.Constraints[0].LTarget != "${node.unique.id}" || g.Constraints[0].RTarget != node {
		t.Errorf("constraints %v: want the job pinned to its worker's node %s", g.Constraints, node)
	}
	if got := g.Tasks[0].Config[driver.ConfigWorkerAlloc]; got != walloc {
		t.Errorf("run config %s = %v, want the worker's alloc %s", driver.ConfigWorkerAlloc, got, walloc)
	}
	jalloc := h.allocOf(t, job.Ref)
	if got := h.fake.Alloc(jalloc).NodeID; got != node {
		t.Errorf("the job was placed on node %s, its worker runs on %s", got, node)
	}
	must(t, h.fake.Run(jalloc))
	must(t, h.fake.Exit(jalloc, 0))
	ev := h.rec.wait(t, job.Ref, engine.EventExited)
	if ev.ExitCode != 0 || ev.Node != "nfx-client" {
		t.Errorf("job ended %+v, want exit 0 on nfx-client", ev)
	}
}

// TestPoolJobOfAGoneWorker: once the worker attempt is gone for good
// (never launched, stopped, superseded by a newer attempt) Launch says so
// with engine.ErrNotFound and registers nothing.
func TestPoolJobOfAGoneWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	gone := func(job *engine.Attempt, why string) {
		t.Helper()
		err := h.eng.Launch(t.Context(), job)
		if !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "pool worker job 1 task 0 attempt 1 is gone: "+why) {
			t.Errorf("launch: %v; want ErrNotFound saying the worker is gone: %s", err, why)
		}
		if got := h.fake.Job(JobID(job.Ref)); got != nil {
			t.Errorf("the job was registered beside a gone worker")
		}
	}
	w1 := poolWorker(1, 1, "gpus")
	gone(poolJob(2, 1, "gpus", w1.Ref), "Nomad job sky-1-0 does not exist")

	h.launch(t, w1)
	must(t, h.fake.Run(h.allocOf(t, w1.Ref)))
	h.rec.wait(t, w1.Ref, engine.EventRunning)
	must(t, h.eng.Stop(t.Context(), w1.Ref))
	gone(poolJob(3, 1, "gpus", w1.Ref), "Nomad job sky-1-0 is stopped")

	w2 := poolWorker(1, 2, "gpus")
	h.launch(t, w2)
	must(t, h.fake.Run(h.allocOf(t, w2.Ref)))
	h.rec.wait(t, w2.Ref, engine.EventRunning)
	gone(poolJob(4, 1, "gpus", w1.Ref), "Nomad job sky-1-0 runs attempt 2 now")
	h.launch(t, poolJob(4, 1, "gpus", w2.Ref))
}

// TestPoolJobLostWithItsWorkersNode: the node of a worker and its job goes
// down while another node is ready. Nomad replaces the worker there, and
// the engine adopts that as the worker's next attempt; the job is pinned
// to the dead node, so Nomad can place nothing for it: the engine stops it
// and reports Preempted without a replacement, for the controller to
// relaunch it beside a worker that runs. (A down client: not on the shared
// cluster.)
func TestPoolJobLostWithItsWorkersNode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.fake.AddNode(nomadfake.NodeSpec{Name: "nfx-client-2", Class: "sky-test"})
	w := poolWorker(1, 1, "gpus")
	h.launch(t, w)
	walloc := h.allocOf(t, w.Ref)
	if h.fake.Alloc(walloc).NodeID != h.node {
		t.Fatalf("want the worker on the first node")
	}
	must(t, h.fake.Run(walloc))
	h.rec.wait(t, w.Ref, engine.EventRunning)
	job := poolJob(2, 1, "gpus", w.Ref)
	h.launch(t, job)
	jalloc := h.allocOf(t, job.Ref)
	must(t, h.fake.Run(jalloc))
	h.rec.wait(t, job.Ref, engine.EventRunning)

	must(t, h.fake.NodeDown(h.node))
	ev := h.rec.wait(t, job.Ref, engine.EventPreempted)
	want := engine.Event{Ref: job.Ref, Kind: engine.EventPreempted, Node: "nfx-client", Reason: "alloc lost: node nfx-client is down"}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("the job's preempted event (-want +got):\n%s", diff)
	}
	if j := h.fake.Job(JobID(job.Ref)); j.Stop == nil || !*j.Stop {
		t.Errorf("the job should be stopped so its blocked eval places nothing")
	}
	for _, a := range h.fake.Allocs(JobID(job.Ref)) {
		if a.ID != jalloc {
			t.Errorf("an alloc of the job was placed on %s", a.NodeName)
		}
	}
	wev := h.rec.wait(t, w.Ref, engine.EventPreempted)
	if wev.Replacement == nil || wev.Replacement.Attempt != 2 {
		t.Errorf("the worker's preempted event %+v: want Nomad's replacement adopted as attempt 2", wev)
	}
	// A job still naming the lost worker attempt is refused: it is gone.
	err := h.eng.Launch(t.Context(), poolJob(3, 1, "gpus", w.Ref))
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("launch beside the lost worker attempt: %v, want ErrNotFound", err)
	}
}

// TestDecideWorkerGone: the task driver refused to start a pool's job
// whose worker had left the node. The job never ran: it was preempted with
// its worker, it did not fail.
func TestDecideWorkerGone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	ref := engine.Ref{JobID: 2, Attempt: 1}
	msg := driver.WorkerGone + ": allocation 5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11 (config worker_alloc) runs no task on node n1: the worker ended"
	w := newWatch("sky-2-0", ref, 1)
	w.registered = true
	w.allocs["a1"] = &allocView{
		ID: "a1", Name: "sky-2-0.main[0]", NodeName: "n1", ClientStatus: api.AllocClientStatusFailed,
		DesiredStatus: api.AllocDesiredStatusRun,
		Tasks: map[string]*api.TaskState{taskRun: {State: "dead", Failed: true, Events: []*api.TaskEvent{
			{Type: api.TaskReceived},
			{Type: api.TaskDriverFailure, DriverError: "rpc error: code = Unknown desc = " + msg, DisplayMessage: "rpc error: code = Unknown desc = " + msg},
			{Type: api.TaskNotRestarting},
		}}},
	}
	evs, act := w.decide(now, time.Minute)
	if act.deregister != stopPreempted {
		t.Fatalf("action %+v, want the job stopped as preempted (events %v)", act, evs)
	}
	w.deregistered = true
	evs, _ = w.decide(now, time.Minute)
	want := []engine.Event{{Ref: ref, Kind: engine.EventPreempted, Time: now, Node: "n1", Reason: "not started on n1: " + msg}}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestWatchCapacityOfPools: a waiting worker gives up when the cloud
// refuses its pool's node class (what the pool's policy launches); a
// pool's job waits for no capacity.
func TestWatchCapacityOfPools(t *testing.T) {
	t.Parallel()
	e := &Engine{cfg: Config{PollInterval: time.Second}}
	for _, tc := range []struct {
		name string
		meta map[string]string
		want string
	}{
		{"offering", map[string]string{naming.MetaOffering: "sky-aws-us-east-1-m6i.large-spot"}, "sky-aws-us-east-1-m6i.large-spot"},
		{"pool worker", map[string]string{naming.MetaOffering: "sky-aws-us-east-1-m6i.large-spot", naming.MetaPool: "gpus", naming.MetaPoolWorker: "true"}, "sky-pool-gpus"},
		{"pool job", map[string]string{naming.MetaOffering: "sky-aws-us-east-1-m6i.large-spot", naming.MetaPool: "gpus"}, ""},
	} {
		w := newWatch("sky-1-0", engine.Ref{JobID: 1, Attempt: 1}, 1)
		e.watchCapacity(w, &api.Job{Meta: tc.meta})
		if w.class != tc.want {
			t.Errorf("%s: capacity read for %q, want %q", tc.name, w.class, tc.want)
		}
	}
}
