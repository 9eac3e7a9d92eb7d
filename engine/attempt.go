package engine

import (
	"math"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// NewAttempt builds attempt ref of task ref.Task of dag, placed on choice:
// the one place an Attempt is made, for the controller's launches and for
// `skynomad translate`, so both render the same job.
//
//   - Task is the DAG's task with Resources set to the chosen candidate and
//     without its secrets, which move to Secrets (never rendered).
//   - Env is the DAG's AttemptEnv. SKYPILOT_NUM_GPUS_PER_NODE is the GPUs
//     the candidate asks for; a task asking none that was placed on a GPU
//     offering sees the offering's GPU count (rounded up).
//   - Pipeline is set for every task of a pipeline (DAG.IsPipeline).
//   - A job submitted to a pool (job.Pool) runs on the pool's workers,
//     which ran setup already: SkipSetup. A pool's worker (a task with a
//     pool: block) runs setup. The controller sets Attempt.Worker.
func NewAttempt(dag task.DAG, job task.JobInfo, ref Ref, choice catalog.Choice) *Attempt {
	if dag.IsGroup() {
		return newGroupAttempt(dag, job, ref, choice)
	}
	return newTaskAttempt(dag, job, ref, choice)
}

func newTaskAttempt(dag task.DAG, job task.JobInfo, ref Ref, choice catalog.Choice) *Attempt {
	t := dag.Tasks[ref.Task]
	if choice.Candidate >= 0 && choice.Candidate < len(t.Candidates) {
		t.Resources = t.Candidates[choice.Candidate]
	}
	secrets := t.Secrets
	t.Secrets = nil
	gpus := t.Resources.GPUsPerNode()
	if gpus == 0 && choice.Offering.GPUCount > 0 {
		gpus = int(math.Ceil(choice.Offering.GPUCount))
	}
	return &Attempt{
		Ref:       ref,
		JobName:   job.Name,
		Pipeline:  dag.IsPipeline(),
		Task:      t,
		Choice:    choice,
		Env:       dag.AttemptEnv(job, ref.Task, gpus),
		Secrets:   secrets,
		Pool:      job.Pool,
		SkipSetup: job.Pool != "" && t.Pool == nil,
	}
}

// newGroupAttempt builds a job group's attempt: one Member per task, each
// built as a single task's attempt on its own choice (choice.Members).
func newGroupAttempt(dag task.DAG, job task.JobInfo, ref Ref, choice catalog.Choice) *Attempt {
	var first *Attempt
	members := make([]Member, len(dag.Tasks))
	for i, t := range dag.Tasks {
		ch := choice
		if i < len(choice.Members) {
			ch = choice.Members[i]
		}
		a := newTaskAttempt(dag, job, Ref{JobID: ref.JobID, Task: i, Attempt: ref.Attempt}, ch)
		members[i] = Member{
			Task: a.Task, Choice: ch, Env: a.Env, Secrets: a.Secrets,
			Primary:          dag.Group.Primary(t.Name),
			TerminationDelay: dag.Group.TerminationDelay.For(t.Name),
		}
		if i == 0 {
			first = a
		}
	}
	first.Ref, first.Choice = ref, choice
	first.Group, first.Members, first.Isolated = dag.Name, members, dag.Group.Isolated
	return first
}
