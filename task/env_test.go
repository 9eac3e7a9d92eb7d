package task

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTaskIDs(t *testing.T) {
	t.Parallel()
	submitted := time.Date(2022, 10, 6, 5, 17, 9, 750781000, time.UTC)
	pipe := DAG{Name: "pipeline", Pipeline: true, Tasks: []Task{{Name: "train"}, {Name: "eval"}}}
	single := DAG{Name: "hello", Tasks: []Task{{Name: "hello"}}}
	tests := []struct {
		name string
		dag  DAG
		job  JobInfo
		want []string
	}{
		{"pipeline, as the seed shows", pipe, JobInfo{ID: 8, Name: "pipeline", Submitted: submitted},
			[]string{"sky-managed-2022-10-06-05-17-09-750781_pipeline_train_8-0", "sky-managed-2022-10-06-05-17-09-750781_pipeline_eval_8-1"}},
		{"single task uses the job name", single, JobInfo{ID: 3, Name: "renamed", Submitted: submitted},
			[]string{"sky-managed-2022-10-06-05-17-09-750781_renamed_3-0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.dag.TaskIDs(tc.job)); diff != "" {
				t.Errorf("TaskIDs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttemptEnv(t *testing.T) {
	t.Parallel()
	dag := DAG{Name: "p", Pipeline: true, Tasks: []Task{{Name: "a"}, {Name: "b", NumNodes: 2, Envs: []EnvVar{{Name: "X", Value: "1"}}}}}
	env := dag.AttemptEnv(JobInfo{ID: 4, Name: "p", Rank: 2, NumJobs: 5}, 1, 8)
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	if !strings.HasSuffix(got["SKYPILOT_TASK_ID"], "_p_b_4-1") || len(strings.Split(got["SKYPILOT_TASK_IDS"], "\n")) != 2 {
		t.Errorf("task ids: %q / %q", got["SKYPILOT_TASK_ID"], got["SKYPILOT_TASK_IDS"])
	}
	want := map[string]string{"SKYPILOT_MANAGED_JOB_ID": "4", "SKYPILOT_NUM_NODES": "2", "SKYPILOT_NUM_GPUS_PER_NODE": "8",
		"SKYPILOT_JOB_RANK": "2", "SKYPILOT_NUM_JOBS": "5", "X": "1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if last := env[len(env)-1]; last.Name != "X" {
		t.Errorf("task envs must come last, got %v", last)
	}
}
