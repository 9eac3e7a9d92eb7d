package nomad

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/task"
)

// TestRealPoolWorkersAndTheirJobs: on the real agent's clients (skypilot
// driver, network_interface "lo"), one worker per node and no more,
// whatever its pool (the static worker port); a job of a pool runs on its
// worker's node, in the worker's workdir, where the pool's setup left its
// files.
func TestRealPoolWorkersAndTheirJobs(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	nodes := h.skypilotNodes(t)
	if len(nodes) == 0 {
		t.Fatal("no ready, eligible node with the skypilot driver")
	}

	// A worker of a pool of its own on every node.
	var workers []*engine.Attempt
	used := map[string]bool{}
	for i := range nodes {
		w := h.worker(t, "pool"+string(rune('a'+i)), "echo installed-by-setup > installed.txt")
		h.launch(t, w)
		h.wait(t, w.Ref, engine.EventRunning)
		al := h.onlyAlloc(t, JobID(w.Ref))
		if used[al.NodeID] {
			t.Errorf("two workers on node %s", al.NodeName)
		}
		used[al.NodeID] = true
		workers = append(workers, w)
	}

	// One more finds no node: every node's worker port is taken.
	extra := h.worker(t, "extra", "true")
	h.launch(t, extra)
	var why string
	realEventually(t, "the extra worker's failed placement", func() bool {
		evals, _, err := h.client.Jobs().Evaluations(JobID(extra.Ref), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evals {
			if m := ev.FailedTGAllocs[naming.GroupName]; m != nil {
				for dim := range m.DimensionExhausted {
					why += dim + "; "
				}
				return true
			}
		}
		return false
	})
	t.Logf("the extra worker is not placed: %s", why)
	if !strings.Contains(why, "port") {
		t.Errorf("the extra worker was not placed for %q; want its port taken", why)
	}
	if stubs := h.allocs(t, JobID(extra.Ref)); len(stubs) > 0 {
		t.Errorf("the extra worker was placed on %s", stubs[0].NodeName)
	}

	// A job beside the first worker.
	w := workers[0]
	walloc := h.onlyAlloc(t, JobID(w.Ref))
	job := h.attempt(t, 1, "echo setup is the worker's", `echo "in $(pwd)"; cat installed.txt`, 1)
	job.Pool, job.SkipSetup, job.Worker = w.Pool, true, &w.Ref
	h.launch(t, job)
	ev := h.wait(t, job.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 0 {
		t.Fatalf("job exited %+v, want run 0\n%s", ev, readLogs(t, h.ctx, h.eng, job.Ref))
	}
	if got := h.onlyAlloc(t, JobID(job.Ref)); got.NodeID != walloc.NodeID {
		t.Errorf("the job ran on %s, its worker on %s", got.NodeName, walloc.NodeName)
	}
	out := readLogs(t, h.ctx, h.eng, job.Ref)
	for _, want := range []string{"/" + walloc.ID + "/alloc/sky_workdir", "installed-by-setup"} {
		if !strings.Contains(out, want) {
			t.Errorf("job logs %q lack %q", out, want)
		}
	}
	if strings.Contains(out, "setup is the worker's") {
		t.Errorf("the job ran setup: %q", out)
	}

	// Its worker stopped, a job beside it is refused.
	if err := h.eng.Stop(h.ctx, w.Ref); err != nil {
		t.Fatal(err)
	}
	late := h.attempt(t, 1, "", "true", 1)
	late.Pool, late.SkipSetup, late.Worker = w.Pool, true, &w.Ref
	if err := h.eng.Launch(h.ctx, late); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("launch beside a stopped worker: %v, want it gone", err)
	}
}

// worker is attempt 1 of the worker of pool, a new internal job whose
// Nomad job is purged when the test ends.
func (h *realHarness) worker(t *testing.T, pool, setup string) *engine.Attempt {
	t.Helper()
	a := h.attempt(t, 1, setup, "ignored: a worker holds its node", 1)
	a.JobName, a.Pool = pool, pool
	a.Task.Pool = &task.PoolSpec{Workers: 1}
	return a
}

// skypilotNodes lists the ready, eligible nodes whose skypilot driver is
// healthy: where a worker may go.
func (h *realHarness) skypilotNodes(t *testing.T) []*api.NodeListStub {
	t.Helper()
	stubs, _, err := h.client.Nodes().List(&api.QueryOptions{Params: map[string]string{"resources": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(stubs, func(n *api.NodeListStub) bool {
		d := n.Drivers[driver.PluginName]
		return n.Status != api.NodeStatusReady || n.SchedulingEligibility != api.NodeSchedulingEligible ||
			d == nil || !d.Healthy
	})
}
