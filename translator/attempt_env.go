package translator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/task"
)

// taskIDTime formats the timestamp of SKYPILOT_TASK_ID, as Python's
// %Y-%m-%d-%H-%M-%S-%f (Go's layouts want a dot before fractions).
func taskIDTime(t time.Time) string {
	return t.Format("2006-01-02-15-04-05") + fmt.Sprintf("-%06d", t.Nanosecond()/1000)
}

// TaskID is SKYPILOT_TASK_ID of a DAG's task:
// sky-managed-<submitted>_<name>_<jobid>-<taskidx>, where name is the DAG's
// name for a single task and <pipeline>_<task> in a pipeline. It is stable
// across recoveries: submitted is the job's submission time.
func TaskID(jobID int64, dag task.DAG, taskIndex int, submitted time.Time) string {
	name := dag.Name
	if dag.Pipeline || len(dag.Tasks) > 1 {
		name += "_" + dag.Tasks[taskIndex].Name
	}
	return "sky-managed-" + taskIDTime(submitted) + "_" + name + "_" +
		strconv.FormatInt(jobID, 10) + "-" + strconv.Itoa(taskIndex)
}

// AttemptEnv is the environment the controller gives an attempt of a DAG's
// task (engine.Attempt.Env): the SKYPILOT_* variables known before placement,
// then the task's envs. chosen is the candidate the attempt runs on; rank and
// numJobs place the job among jobs submitted together to a pool (0 and 1
// otherwise). Per-node variables (node rank, node IPs, cluster info) are the
// runner's.
func AttemptEnv(jobID int64, dag task.DAG, taskIndex int, chosen task.Resources, submitted time.Time, rank, numJobs int) []task.EnvVar {
	ids := make([]string, len(dag.Tasks))
	for i := range dag.Tasks {
		ids[i] = TaskID(jobID, dag, i, submitted)
	}
	t := dag.Tasks[taskIndex]
	env := []task.EnvVar{
		{Name: "SKYPILOT_TASK_ID", Value: ids[taskIndex]},
		{Name: "SKYPILOT_TASK_IDS", Value: strings.Join(ids, "\n")},
		{Name: "SKYPILOT_MANAGED_JOB_ID", Value: strconv.FormatInt(jobID, 10)},
		{Name: "SKYPILOT_NUM_NODES", Value: strconv.Itoa(max(t.NumNodes, 1))},
		{Name: "SKYPILOT_NUM_GPUS_PER_NODE", Value: strconv.Itoa(chosen.GPUsPerNode())},
		{Name: "SKYPILOT_JOB_RANK", Value: strconv.Itoa(rank)},
		{Name: "SKYPILOT_NUM_JOBS", Value: strconv.Itoa(max(numJobs, 1))},
	}
	return append(env, t.Envs...)
}
