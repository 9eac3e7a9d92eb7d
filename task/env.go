package task

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JobInfo is what SKYPILOT_* variables say about the managed job an attempt
// belongs to.
type JobInfo struct {
	ID   int64
	Name string
	// Submitted is the job's submission time: task ids stay stable across
	// recoveries.
	Submitted time.Time
	// Rank and NumJobs place the job among jobs submitted together (0 and 1
	// otherwise).
	Rank, NumJobs int
	// Pool is the worker pool the job was submitted to, if any.
	Pool string
}

// TaskIDs returns SKYPILOT_TASK_ID of every task:
// sky-managed-<YYYY-MM-DD-HH-MM-SS-ffffff>_<name>_<jobid>-<taskidx>, where
// name is the job name for a single task and <pipeline>_<task> in a pipeline
// or a job group.
func (d DAG) TaskIDs(j JobInfo) []string {
	// Python's %f is microseconds; Go layouts want a dot before fractions.
	ts := j.Submitted.Format("2006-01-02-15-04-05") + fmt.Sprintf("-%06d", j.Submitted.Nanosecond()/1000)
	pipeline := d.IsPipeline() || d.IsGroup()
	ids := make([]string, len(d.Tasks))
	for i, t := range d.Tasks {
		name := j.Name
		if pipeline {
			name += "_" + t.Name
		}
		ids[i] = "sky-managed-" + ts + "_" + name + "_" + strconv.FormatInt(j.ID, 10) + "-" + strconv.Itoa(i)
	}
	return ids
}

// AttemptEnv is the environment of an attempt of task idx as the controller
// knows it before placement: the SKYPILOT_* variables, then the task's envs.
// Per-node variables (node rank, node IPs, cluster info) are the runner's.
func (d DAG) AttemptEnv(j JobInfo, idx, gpusPerNode int) []EnvVar {
	ids := d.TaskIDs(j)
	t := d.Tasks[idx]
	env := []EnvVar{
		{Name: "SKYPILOT_TASK_ID", Value: ids[idx]},
		{Name: "SKYPILOT_TASK_IDS", Value: strings.Join(ids, "\n")},
		{Name: "SKYPILOT_MANAGED_JOB_ID", Value: strconv.FormatInt(j.ID, 10)},
		{Name: "SKYPILOT_NUM_NODES", Value: strconv.Itoa(max(t.NumNodes, 1))},
		{Name: "SKYPILOT_NUM_GPUS_PER_NODE", Value: strconv.Itoa(gpusPerNode)},
		{Name: "SKYPILOT_JOB_RANK", Value: strconv.Itoa(j.Rank)},
		{Name: "SKYPILOT_NUM_JOBS", Value: strconv.Itoa(max(j.NumJobs, 1))},
	}
	if d.IsGroup() {
		env = append(env, EnvVar{Name: "SKYPILOT_JOBGROUP_NAME", Value: d.Name})
	}
	return append(env, t.Envs...)
}
