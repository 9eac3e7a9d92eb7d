package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

var localChoice = catalog.Choice{Offering: catalog.Offering{
	Cloud: "local", Region: "local", InstanceType: "local", VCPUs: 2, MemoryGB: 23.4,
}}

var awsChoices = []catalog.Choice{
	{Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p3.16xlarge", VCPUs: 64, MemoryGB: 488, GPU: "V100", GPUCount: 8}, Spot: true, HourlyCost: 7.34},
	{Offering: catalog.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "n1-highmem-64", VCPUs: 64, MemoryGB: 416, GPU: "V100", GPUCount: 8}, Spot: true, HourlyCost: 8.1},
}

// newFake is a controller with job 1 finished as status, logs in every
// task's stream.
func newFake(status api.Status) *fakeController {
	return &fakeController{
		plan: api.PlanResponse{Engine: "local", Tasks: []api.TaskPlan{{Task: "hello", Choices: []catalog.Choice{localChoice}}}},
		jobs: map[int64]*api.Job{1: {ID: 1, Name: "hello", Status: status, Tasks: []api.Task{
			{Index: 0, Name: "hello", Status: status},
		}}},
		logs: map[int64]map[int]string{1: {
			allTasks: "(setup pid=11) Running setup.\n(hello, pid=12) Hello, skynomad!\n",
			0:        "(hello, pid=12) Hello, skynomad!\n",
		}},
		ctlLogs: map[int64]string{1: "attempt 1 placed on local\n"},
	}
}

// withPool adds pool "workers" (two local workers, one busy) to a fake.
func withPool(f *fakeController) *fakeController {
	ch := localChoice
	f.pools = map[string]api.Pool{"workers": {
		Name: "workers", Status: api.PoolReady, Version: 1, Workers: 2, Ready: 2, Busy: 1, Requested: "1x [CPU:1+]",
		Choice: &ch, PendingJobs: 3, RunningJobs: 1,
		Worker: []api.Worker{
			{ID: 1, Status: api.WorkerBusy, Version: 1, Job: 4, Node: "local", Infra: "local", Instance: "local"},
			{ID: 2, Status: api.WorkerIdle, Version: 1, Node: "local", Infra: "local", Instance: "local", Replaced: 1},
		},
	}}
	return f
}

func TestCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		stdin    string
		fake     func() *fakeController // nil: the command must not reach the controller
		wantCode int
		check    func(t *testing.T, f *fakeController, stdout string)
	}{
		{
			name: "launch-follow-succeeded",
			args: []string{"jobs", "launch", "-y", "testdata/hello.yaml"},
			fake: func() *fakeController { return newFake(api.StatusSucceeded) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if want := []string{"job=1 task=all follow=true tail=0"}; !slices.Equal(f.logCalls, want) {
					t.Errorf("log calls %q, want %q", f.logCalls, want)
				}
				if len(f.launched) != 1 || f.launched[0].User != "ada" || f.launched[0].DAG.Name != "hello" {
					t.Errorf("launch requests %+v", f.launched)
				}
			},
		},
		{
			name:     "launch-follow-failed-setup",
			args:     []string{"jobs", "launch", "-y", "-n", "renamed", "testdata/hello.yaml"},
			fake:     func() *fakeController { return newFake(api.StatusFailedSetup) },
			wantCode: ExitFailedSetup,
			check: func(t *testing.T, f *fakeController, _ string) {
				if got := f.launched[0].DAG.Name; got != "renamed" {
					t.Errorf("launched name %q, want renamed", got)
				}
			},
		},
		{
			name: "launch-follow-log-stream-cut",
			args: []string{"jobs", "launch", "-y", "testdata/hello.yaml"},
			fake: func() *fakeController {
				f := newFake(api.StatusFailed)
				f.jobs[1].FailureReason = "run exited with code 7"
				f.logErr = errors.New("log stream cut by the controller")
				return f
			},
			wantCode: ExitFailed,
		},
		{
			name:  "launch-asks-and-proceeds",
			args:  []string{"jobs", "launch", "-d", "testdata/hello.yaml", "--env", "A=1"},
			stdin: "y\n",
			fake:  func() *fakeController { return newFake(api.StatusRunning) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.logCalls) != 0 {
					t.Errorf("-d followed the logs: %q", f.logCalls)
				}
				envs := f.launched[0].DAG.Tasks[0].Envs
				if !slices.ContainsFunc(envs, func(e task.EnvVar) bool { return e.Name == "A" && e.Value == "1" }) {
					t.Errorf("--env A=1 not in the task's envs: %+v", envs)
				}
			},
		},
		{
			name:     "launch-declined",
			args:     []string{"jobs", "launch", "testdata/hello.yaml"},
			stdin:    "n\n",
			fake:     func() *fakeController { return newFake(api.StatusRunning) },
			wantCode: ExitError,
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.launched) != 0 {
					t.Errorf("a declined launch was submitted")
				}
			},
		},
		{
			name:     "launch-no-input-without-yes",
			args:     []string{"jobs", "launch", "testdata/hello.yaml"},
			fake:     func() *fakeController { return newFake(api.StatusRunning) },
			wantCode: ExitError,
		},
		{
			name:     "launch-bad-yaml",
			args:     []string{"jobs", "launch", "-y", "testdata/bad-unknown-field.yaml"},
			wantCode: ExitError,
		},
		{
			name:     "launch-bad-env-flag",
			args:     []string{"jobs", "launch", "-y", "testdata/hello.yaml", "--env", "1X=2"},
			wantCode: ExitError,
		},
		{
			name: "launch-pipeline-one-task-infeasible",
			args: []string{"jobs", "launch", "-y", "-d", "testdata/pipeline.yaml"},
			fake: func() *fakeController {
				f := newFake(api.StatusFailedPrechecks)
				f.plan = api.PlanResponse{Engine: "nomad", Tasks: []api.TaskPlan{
					{Task: "train", Choices: awsChoices},
					{Task: "eval", Error: "no offering fits: T4:1 is not offered in the enabled infra (aws)"},
				}}
				return f
			},
			// Refused before submitting: nothing reaches the controller.
			wantCode: ExitFailedPrechecks,
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.launched) != 0 {
					t.Errorf("launched %d job(s), want none", len(f.launched))
				}
			},
		},
		{
			name: "launch-many-jobs",
			args: []string{"jobs", "launch", "-y", "--num-jobs", "3", "-p", "workers", "testdata/hello.yaml"},
			fake: func() *fakeController { return withPool(newFake(api.StatusRunning)) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if r := f.launched[0]; r.NumJobs != 3 || r.Pool != "workers" || r.DAG.Tasks[0].Setup != "" {
					t.Errorf("launch request NumJobs %d Pool %q setup %q", r.NumJobs, r.Pool, r.DAG.Tasks[0].Setup)
				}
			},
		},
		{
			// The same pool file is reused to submit jobs: its pool block
			// and setup are named as ignored; its run is the job's.
			name: "launch-pool-file-on-its-pool",
			args: []string{"jobs", "launch", "-y", "-d", "-p", "workers", "testdata/pool.yaml"},
			fake: func() *fakeController { return withPool(newFake(api.StatusRunning)) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if tk := f.launched[0].DAG.Tasks[0]; tk.Pool != nil || tk.Run == "" {
					t.Errorf("submitted task: pool %v run %q", tk.Pool, tk.Run)
				}
			},
		},
		{
			name:     "launch-too-big-for-pool",
			args:     []string{"jobs", "launch", "-y", "-p", "workers", "testdata/pool-job-too-big.yaml"},
			fake:     func() *fakeController { return withPool(newFake(api.StatusRunning)) },
			wantCode: ExitError,
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.launched) != 0 {
					t.Errorf("launched %d job(s), want none", len(f.launched))
				}
			},
		},
		{
			name:     "launch-unknown-pool",
			args:     []string{"jobs", "launch", "-y", "-p", "nope", "testdata/hello.yaml"},
			fake:     func() *fakeController { return withPool(newFake(api.StatusRunning)) },
			wantCode: ExitError,
		},
		{
			name: "pool-apply",
			args: []string{"jobs", "pool", "apply", "-y", "-p", "batch", "testdata/pool.yaml"},
			fake: func() *fakeController { return newFake(api.StatusRunning) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.applied) != 1 || f.applied[0].Name != "batch" || f.applied[0].DAG.Tasks[0].Pool.Workers != 2 {
					t.Errorf("apply requests %+v", f.applied)
				}
			},
		},
		{
			name:     "pool-apply-not-a-pool-file",
			args:     []string{"jobs", "pool", "apply", "-y", "-p", "batch", "testdata/hello.yaml"},
			wantCode: ExitError,
		},
		{
			name: "pool-status",
			args: []string{"jobs", "pool", "status"},
			fake: func() *fakeController { return withPool(newFake(api.StatusRunning)) },
		},
		{
			name:  "pool-down-warns-about-jobs",
			args:  []string{"jobs", "pool", "down", "workers"},
			stdin: "y\n",
			fake:  func() *fakeController { return withPool(newFake(api.StatusRunning)) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if len(f.downs) != 1 || f.downs[0].Names[0] != "workers" {
					t.Errorf("down requests %+v", f.downs)
				}
			},
		},
		{
			name: "queue-of-a-pool",
			args: []string{"jobs", "queue", "-p", "workers"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				f.queue = []api.Job{{ID: 5, Name: "job", Status: api.StatusPending, Pool: "workers",
					Details: "waiting for a free worker of pool workers (2/2 busy)", Tasks: []api.Task{{Name: "job", Status: api.StatusPending}}}}
				return f
			},
			check: func(t *testing.T, f *fakeController, _ string) {
				if f.queued[0].Pool != "workers" {
					t.Errorf("queue request %+v", f.queued[0])
				}
			},
		},
		{
			name: "queue",
			args: []string{"jobs", "queue"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				f.queue, f.inProgress = sampleJobs(), sampleInProgress()
				return f
			},
			check: func(t *testing.T, f *fakeController, _ string) {
				if diff := cmp.Diff([]api.QueueRequest{{User: "ada"}}, f.queued); diff != "" {
					t.Errorf("queue request (-want +got):\n%s", diff)
				}
			},
		},
		{
			// The summary counts every job in progress, not the rows shown.
			name: "queue-one-finished-job",
			args: []string{"jobs", "queue", "13"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				done := sampleJobs()[3]
				done.ID = 13
				f.jobs[13] = &done
				f.inProgress = map[api.Status]int{api.StatusRunning: 2}
				return f
			},
			check: func(t *testing.T, f *fakeController, _ string) {
				if diff := cmp.Diff([]api.QueueRequest{{User: "ada", JobIDs: []int64{13}}}, f.queued); diff != "" {
					t.Errorf("queue request (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "queue-limit",
			args: []string{"jobs", "queue", "-l", "2"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				f.queue, f.inProgress = sampleJobs()[:2], sampleInProgress()
				return f
			},
		},
		{
			name: "queue-all-users",
			args: []string{"jobs", "queue", "-u"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				f.queue, f.inProgress = sampleJobs(), sampleInProgress()
				return f
			},
			check: func(t *testing.T, f *fakeController, _ string) {
				if diff := cmp.Diff([]api.QueueRequest{{}}, f.queued); diff != "" {
					t.Errorf("queue request (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "queue-empty",
			args: []string{"jobs", "queue", "-a", "-u", "-s", "-l", "5", "3", "4"},
			fake: func() *fakeController { return newFake(api.StatusRunning) },
			check: func(t *testing.T, f *fakeController, _ string) {
				want := []api.QueueRequest{{All: true, SkipFinished: true, Limit: 5, JobIDs: []int64{3, 4}}}
				if diff := cmp.Diff(want, f.queued); diff != "" {
					t.Errorf("queue request (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "queue-json",
			args: []string{"jobs", "queue", "-o", "json"},
			fake: func() *fakeController {
				f := newFake(api.StatusRunning)
				f.queue, f.inProgress = sampleJobs()[2:], map[api.Status]int{api.StatusRunning: 1}
				return f
			},
			check: func(t *testing.T, f *fakeController, stdout string) {
				var res api.QueueResponse
				if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Jobs) != 2 || res.Jobs[1].ID != 1 {
					t.Fatalf("queue -o json: %v, %+v", err, res)
				}
				if got, want := time.Duration(res.Jobs[1].JobDuration), 11*time.Second; got != want {
					t.Errorf("job_duration reads back as %s, want %s", got, want)
				}
			},
		},
		{
			name:     "queue-bad-output",
			args:     []string{"jobs", "queue", "-o", "yaml"},
			wantCode: ExitError,
		},
		{
			name: "logs-task-by-name",
			args: []string{"jobs", "logs", "--no-follow", "1", "hello"},
			fake: func() *fakeController { return newFake(api.StatusSucceeded) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if want := []string{"job=1 task=0 follow=false tail=0"}; !slices.Equal(f.logCalls, want) {
					t.Errorf("log calls %q, want %q", f.logCalls, want)
				}
			},
		},
		{
			name:     "logs-unknown-task",
			args:     []string{"jobs", "logs", "1", "nope"},
			fake:     func() *fakeController { return newFake(api.StatusSucceeded) },
			wantCode: ExitError,
		},
		{
			name: "logs-latest-by-name",
			args: []string{"jobs", "logs", "-n", "hello", "--tail", "5"},
			fake: func() *fakeController { f := newFake(api.StatusSucceeded); f.queue = sampleJobs(); return f },
			check: func(t *testing.T, f *fakeController, _ string) {
				if want := []string{"job=1 task=all follow=true tail=5"}; !slices.Equal(f.logCalls, want) {
					t.Errorf("log calls %q, want %q", f.logCalls, want)
				}
			},
		},
		{
			name: "logs-controller",
			args: []string{"jobs", "logs", "--controller", "1"},
			fake: func() *fakeController { return newFake(api.StatusSucceeded) },
		},
		{
			name:     "cancel-two-selectors",
			args:     []string{"jobs", "cancel", "-a", "1"},
			wantCode: ExitError,
		},
		{
			name:  "cancel-all-mine",
			args:  []string{"jobs", "cancel", "-a"},
			stdin: "\n",
			fake:  func() *fakeController { return newFake(api.StatusRunning) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if diff := cmp.Diff([]api.CancelRequest{{All: true, User: "ada"}}, f.cancels); diff != "" {
					t.Errorf("cancel request (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "cancel-nothing-running",
			args: []string{"jobs", "cancel", "-y", "-n", "hello"},
			fake: func() *fakeController { return newFake(api.StatusSucceeded) },
		},
		{
			name: "preempt",
			args: []string{"jobs", "preempt", "1", "--task", "1", "--notice", "30s"},
			fake: func() *fakeController { return newFake(api.StatusRunning) },
			check: func(t *testing.T, f *fakeController, _ string) {
				if diff := cmp.Diff([]api.PreemptRequest{{Task: 1, NoticeSeconds: 30}}, f.preempts); diff != "" {
					t.Errorf("preempt request (-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f *fakeController
			if tt.fake != nil {
				f = tt.fake()
			}
			stdout, stderr, code := run(t, f, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			golden(t, "cmd-"+tt.name+".txt", "--- stdout\n"+stdout+"--- stderr\n"+stderr)
			if tt.check != nil {
				tt.check(t, f, stdout)
			}
		})
	}
}

// TestBadConfigReport: an error in config.yaml reads like one in a task
// file: path:line:col: key: message first, then what is accepted.
func TestBadConfigReport(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte("controller:\n  adress: http://a:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := map[string]string{"SKYNOMAD_HOME": home, "USER": "ada"}
	code := Main(context.Background(), IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	}, []string{"jobs", "queue"})
	if code != ExitError {
		t.Errorf("exit code %d, want %d", code, ExitError)
	}
	want := filepath.Join(home, "config.yaml") + ":2:3: controller.adress: unknown key\n  accepted: address, token\n"
	if diff := cmp.Diff(want, errOut.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}
