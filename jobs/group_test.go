package jobs

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

func jobGroup(name string, primary []string, tasks ...string) task.DAG {
	dag := task.DAG{Name: name, Group: &task.Group{PrimaryTasks: primary}}
	for _, n := range tasks {
		dag.Tasks = append(dag.Tasks, task.Task{Name: n, NumNodes: 1, Run: "echo " + n, Candidates: []task.Resources{{}}})
	}
	return dag
}

func taskStatusesOf(j api.Job) []api.Status {
	var out []api.Status
	for _, tk := range j.Tasks {
		out = append(out, tk.Status)
	}
	return out
}

func TestJobGroupRunsAsOneAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.submit(jobGroup("pair", []string{"client"}, "server", "client"))
	j := h.waitTerminal(id)
	if j.Status != api.StatusSucceeded {
		t.Fatalf("job %s (%s), want SUCCEEDED", j.Status, j.FailureReason)
	}
	if diff := cmp.Diff([]api.Status{api.StatusSucceeded, api.StatusSucceeded}, taskStatusesOf(j)); diff != "" {
		t.Errorf("task statuses (-want +got):\n%s", diff)
	}
	launches := h.launchesOf(id)
	if len(launches) != 1 {
		t.Fatalf("%d launches, want one attempt for the whole group", len(launches))
	}
	a := launches[0]
	if a.Group != "pair" || len(a.Members) != 2 {
		t.Fatalf("attempt group %q with %d members, want pair with 2", a.Group, len(a.Members))
	}
	var primary []bool
	for _, m := range a.Members {
		primary = append(primary, m.Primary)
		env := map[string]string{}
		for _, e := range m.Env {
			env[e.Name] = e.Value
		}
		if env["SKYPILOT_JOBGROUP_NAME"] != "pair" {
			t.Errorf("member %s: SKYPILOT_JOBGROUP_NAME=%q, want pair", m.Task.Name, env["SKYPILOT_JOBGROUP_NAME"])
		}
		if m.Choice.Offering.Region != a.Members[0].Choice.Offering.Region {
			t.Errorf("member %s placed in %s, the first in %s: a group runs in one region",
				m.Task.Name, m.Choice.Offering.Region, a.Members[0].Choice.Offering.Region)
		}
	}
	if diff := cmp.Diff([]bool{false, true}, primary); diff != "" {
		t.Errorf("primary flags (-want +got):\n%s", diff)
	}
}

func TestJobGroupPreemptedRecoversTogether(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(byAttempt(enginetest.Preempted, enginetest.Succeed))
	id := h.submit(jobGroup("pair", nil, "a", "b"))
	j := h.waitTerminal(id)
	if j.Status != api.StatusSucceeded || j.Recoveries != 1 {
		t.Fatalf("job %s with %d recoveries, want SUCCEEDED after 1", j.Status, j.Recoveries)
	}
	for _, a := range h.launchesOf(id) {
		if len(a.Members) != 2 {
			t.Errorf("attempt %d launched %d members, want the whole group", a.Ref.Attempt, len(a.Members))
		}
	}
}

func TestJobGroupMemberFailureFailsTheGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(func(a engine.Attempt) []engine.Event { return enginetest.Exit(a, engine.PhaseRun, 3) })
	id := h.submit(jobGroup("pair", nil, "a", "b"))
	j := h.waitTerminal(id)
	if j.Status != api.StatusFailed {
		t.Fatalf("job %s, want FAILED", j.Status)
	}
	if diff := cmp.Diff([]api.Status{api.StatusFailed, api.StatusFailed}, taskStatusesOf(j)); diff != "" {
		t.Errorf("task statuses (-want +got):\n%s", diff)
	}
}

func TestJobGroupRefusedByPools(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	err := h.ctl.checkPoolJob(t.Context(), "p", jobGroup("pair", nil, "a", "b"))
	if err == nil || !IsInvalid(err) {
		t.Fatalf("a job group submitted to a pool: %v, want an invalid-request error", err)
	}
}

// TestJobGroupDemand: the capacity a running job group needs is every
// task's nodes, each on its own offering.
func TestJobGroupDemand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	dag := jobGroup("pair", nil, "server", "trainer")
	dag.Tasks[1].NumNodes = 2
	id := h.submit(dag)
	h.waitStatus(id, api.StatusRunning)
	d, err := h.ctl.Demand(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"sky-aws-us-east-1-m6i.large-on-demand": 3}
	if diff := cmp.Diff(want, d.Nodes); diff != "" {
		t.Errorf("demand of a running job group (-want +got):\n%s", diff)
	}
}
