package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

func TestSingleTaskSucceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dag := oneTask("hello", func(tk *task.Task) {
		tk.Envs = []task.EnvVar{{Name: "GREETING", Value: "hi"}}
		tk.Secrets = []task.EnvVar{{Name: "TOKEN", Value: "s3cret"}}
	})
	id := h.submit(dag)
	j := h.waitTerminal(id)

	if j.Status != api.StatusSucceeded {
		t.Fatalf("status %s (%s), want SUCCEEDED", j.Status, j.FailureReason)
	}
	tk := j.Tasks[0]
	if tk.Status != api.StatusSucceeded || tk.Attempt != 1 || tk.ExitCode == nil || *tk.ExitCode != 0 ||
		tk.Recoveries != 0 || tk.Restarts != 0 {
		t.Errorf("task = %+v", tk)
	}
	if j.StartedAt == nil || j.EndedAt == nil || tk.StartedAt == nil || tk.EndedAt == nil || tk.SubmittedAt == nil {
		t.Errorf("times not recorded: %+v", j)
	}
	if tk.Infra != "aws/us-east-1" || tk.Instance != "m6i.large" {
		t.Errorf("placement = %s %s, want the cheapest (aws/us-east-1 m6i.large)", tk.Infra, tk.Instance)
	}

	launches := h.launchesOf(id)
	if len(launches) != 1 {
		t.Fatalf("%d launches, want 1", len(launches))
	}
	a := launches[0]
	env := map[string]string{}
	var names []string
	for _, e := range a.Env {
		env[e.Name] = e.Value
		names = append(names, e.Name)
	}
	wantNames := []string{"SKYPILOT_TASK_ID", "SKYPILOT_TASK_IDS", "SKYPILOT_MANAGED_JOB_ID", "SKYPILOT_NUM_NODES",
		"SKYPILOT_NUM_GPUS_PER_NODE", "SKYPILOT_JOB_RANK", "SKYPILOT_NUM_JOBS", "GREETING"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("env names (-want +got):\n%s", diff)
	}
	taskID := regexp.MustCompile(`^sky-managed-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{6}_hello_` + itoa(id) + `-0$`)
	if !taskID.MatchString(env["SKYPILOT_TASK_ID"]) {
		t.Errorf("SKYPILOT_TASK_ID = %q", env["SKYPILOT_TASK_ID"])
	}
	if env["SKYPILOT_TASK_IDS"] != env["SKYPILOT_TASK_ID"] || env["SKYPILOT_MANAGED_JOB_ID"] != itoa(id) ||
		env["SKYPILOT_JOB_RANK"] != "0" || env["SKYPILOT_NUM_JOBS"] != "1" || env["GREETING"] != "hi" {
		t.Errorf("env = %v", env)
	}
	if len(a.Task.Secrets) != 0 || len(a.Secrets) != 1 || a.Secrets[0].Value != "s3cret" {
		t.Errorf("secrets: task %v, attempt %v; want them only in Attempt.Secrets", a.Task.Secrets, a.Secrets)
	}
	if _, ok := env["TOKEN"]; ok {
		t.Error("a secret is in Env")
	}

	log := h.controllerLog(id)
	for _, want := range []string{
		"submitted by alice: hello (1 task(s))",
		"placing attempt 1 of task 0 (hello) on AWS (us-east-1) m6i.large",
		"attempt 1 placed on node node-us-east-1",
		"job finished: SUCCEEDED",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("controller log lacks %q:\n%s", want, log)
		}
	}
}

func TestUserFailures(t *testing.T) {
	t.Parallel()
	fail := func(phase engine.Phase, code int) func(engine.Attempt) []engine.Event { return exitWith(phase, code) }
	tests := []struct {
		name     string
		recovery task.JobRecovery
		script   func(engine.Attempt) []engine.Event
		status   api.Status
		reason   string
		attempts int
		restarts int
		exitCode int
		logLine  string
	}{
		{
			name: "run exits 7", script: fail(engine.PhaseRun, 7),
			status: api.StatusFailed, reason: "run exited with code 7", attempts: 1, exitCode: 7,
			logLine: "attempt 1: run exited with code 7",
		},
		{
			name: "setup exits 3", script: fail(engine.PhaseSetup, 3),
			status: api.StatusFailedSetup, reason: "setup exited with code 3", attempts: 1, exitCode: 3,
			logLine: "attempt 1: setup exited with code 3",
		},
		{
			name: "two failures within max_restarts_on_errors 2", recovery: task.JobRecovery{MaxRestartsOnErrors: 2},
			script: byAttempt(fail(engine.PhaseRun, 1), fail(engine.PhaseSetup, 2), enginetest.Succeed),
			status: api.StatusSucceeded, attempts: 3, restarts: 2, exitCode: 0,
			logLine: "attempt 2: setup exited with code 2; restarting (restart 2 of 2)",
		},
		{
			name: "restarts exhausted", recovery: task.JobRecovery{MaxRestartsOnErrors: 1},
			script: fail(engine.PhaseRun, 5),
			status: api.StatusFailed, reason: "run exited with code 5", attempts: 2, restarts: 1, exitCode: 5,
			logLine: "attempt 2: run exited with code 5; no restarts left (1 used)",
		},
		{
			name: "recover_on_exit_codes restarts without the counter", recovery: task.JobRecovery{RecoverOnExitCodes: []int{42}},
			script: byAttempt(fail(engine.PhaseRun, 42), fail(engine.PhaseRun, 42), enginetest.Succeed),
			status: api.StatusSucceeded, attempts: 3, restarts: 0, exitCode: 0,
			logLine: "attempt 1: run exited with code 42, which is in recover_on_exit_codes; restarting",
		},
		{
			name: "other codes still fail", recovery: task.JobRecovery{RecoverOnExitCodes: []int{42}},
			script: fail(engine.PhaseRun, 41),
			status: api.StatusFailed, reason: "run exited with code 41", attempts: 1, exitCode: 41,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.eng.SetScript(tc.script)
			id := h.submit(oneTask("job", withRecovery(tc.recovery)))
			j := h.waitTerminal(id)
			tk := j.Tasks[0]
			if j.Status != tc.status || j.FailureReason != tc.reason || tk.FailureReason != tc.reason {
				t.Errorf("status %s reason %q (task %q), want %s %q", j.Status, j.FailureReason, tk.FailureReason, tc.status, tc.reason)
			}
			if tk.Attempt != tc.attempts || tk.Restarts != tc.restarts || tk.Recoveries != 0 {
				t.Errorf("attempt %d restarts %d recoveries %d, want %d %d 0", tk.Attempt, tk.Restarts, tk.Recoveries, tc.attempts, tc.restarts)
			}
			if tk.ExitCode == nil || *tk.ExitCode != tc.exitCode {
				t.Errorf("exit code %v, want %d", tk.ExitCode, tc.exitCode)
			}
			if n := len(h.launchesOf(id)); n != tc.attempts {
				t.Errorf("%d launches, want %d", n, tc.attempts)
			}
			log := h.controllerLog(id)
			if tc.logLine != "" && !strings.Contains(log, tc.logLine) {
				t.Errorf("controller log lacks %q:\n%s", tc.logLine, log)
			}
			if tc.reason != "" && !strings.Contains(log, "job finished: "+string(tc.status)+" ("+tc.reason+")") {
				t.Errorf("controller log lacks the final status and reason:\n%s", log)
			}
		})
	}
}

func TestPreemptedTwiceRecovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(byAttempt(enginetest.Preempted, enginetest.Preempted, enginetest.Succeed))
	id := h.submit(oneTask("spot", withRecovery(task.JobRecovery{MaxRestartsOnErrors: 1})))
	j := h.waitTerminal(id)
	tk := j.Tasks[0]
	if j.Status != api.StatusSucceeded || tk.Recoveries != 2 || tk.Restarts != 0 || tk.Attempt != 3 || j.Recoveries != 2 {
		t.Errorf("status %s recoveries %d restarts %d attempt %d, want SUCCEEDED 2 0 3", j.Status, tk.Recoveries, tk.Restarts, tk.Attempt)
	}
	// Each preempted attempt is stopped (cleaned up) before the next one.
	var stopped []int
	for _, r := range h.eng.Stops() {
		stopped = append(stopped, r.Attempt)
	}
	if diff := cmp.Diff([]int{1, 2}, stopped); diff != "" {
		t.Errorf("stopped attempts (-want +got):\n%s", diff)
	}
	log := h.controllerLog(id)
	for _, want := range []string{"attempt 1 preempted on node node-us-east-1: spot reclaimed", "recovering (EAGER_NEXT_REGION)"} {
		if !strings.Contains(log, want) {
			t.Errorf("controller log lacks %q:\n%s", want, log)
		}
	}
}

func TestRecoveryStrategies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		strategy string
		pin      string // candidate region
		offers   []catalog.Offering
		script   func(engine.Attempt) []engine.Event
		regions  []string
	}{
		{
			name: "EAGER_NEXT_REGION avoids the preempted region", strategy: task.StrategyEagerNextRegion,
			script:  byAttempt(enginetest.Preempted, enginetest.Succeed),
			regions: []string{"us-east-1", "us-west-2"},
		},
		{
			name: "EAGER_NEXT_REGION is the default", script: byAttempt(enginetest.NoCap, enginetest.Preempted, enginetest.Succeed),
			regions: []string{"us-east-1", "us-west-2", "us-east-1"},
		},
		{
			name: "EAGER_NEXT_REGION goes back when nothing else fits", strategy: task.StrategyEagerNextRegion,
			offers: TestOfferings[:1], script: byAttempt(enginetest.Preempted, enginetest.Succeed),
			regions: []string{"us-east-1", "us-east-1"},
		},
		{
			name: "a pinned region stays", strategy: task.StrategyEagerNextRegion, pin: "us-east-1",
			script:  byAttempt(enginetest.Preempted, enginetest.Succeed),
			regions: []string{"us-east-1", "us-east-1"},
		},
		{
			name: "FAILOVER retries the same region three times first", strategy: task.StrategyFailover,
			script:  byAttempt(enginetest.NoCap, enginetest.Preempted, enginetest.NoCap, enginetest.NoCap, enginetest.NoCap, enginetest.Succeed),
			regions: []string{"us-east-1", "us-west-2", "us-west-2", "us-west-2", "us-west-2", "us-east-1"},
		},
		{
			name: "FAILOVER stays when the region has capacity", strategy: task.StrategyFailover,
			script:  byAttempt(enginetest.NoCap, enginetest.Preempted, enginetest.Succeed),
			regions: []string{"us-east-1", "us-west-2", "us-west-2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tc.offers != nil {
				h.plan.Offerings = tc.offers
			}
			h.eng.SetScript(tc.script)
			id := h.submit(oneTask("spot", withRecovery(task.JobRecovery{Strategy: tc.strategy}), func(tk *task.Task) {
				tk.Candidates[0].Infra.Region = tc.pin
			}))
			j := h.waitTerminal(id)
			if j.Status != api.StatusSucceeded {
				t.Fatalf("status %s (%s)", j.Status, j.FailureReason)
			}
			if diff := cmp.Diff(tc.regions, regions(h.launchesOf(id))); diff != "" {
				t.Errorf("regions of the attempts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoCapacity(t *testing.T) {
	t.Parallel()
	t.Run("every candidate, then back off and plan again", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.eng.SetScript(byAttempt(enginetest.NoCap, enginetest.NoCap, enginetest.NoCap, enginetest.NoCap, enginetest.Succeed))
		id := h.submit(oneTask("busy"))
		j := h.waitTerminal(id)
		if j.Status != api.StatusSucceeded || j.Tasks[0].Recoveries != 0 {
			t.Fatalf("status %s recoveries %d, want SUCCEEDED 0", j.Status, j.Tasks[0].Recoveries)
		}
		want := []string{"us-east-1", "us-west-2", "eu-west-1", "us-central1", "us-east-1"}
		if diff := cmp.Diff(want, regions(h.launchesOf(id))); diff != "" {
			t.Errorf("regions (-want +got):\n%s", diff)
		}
		if log := h.controllerLog(id); !strings.Contains(log, "no capacity for task 0 (busy) in any candidate location; retrying in") {
			t.Errorf("controller log lacks the backoff:\n%s", log)
		}
		// Unplaced attempts were cleaned up.
		if live := h.eng.Live(); len(live) != 0 {
			t.Errorf("attempts left running: %v", live)
		}
	})
	t.Run("an attempt with only some nodes placed moves on", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		partly := func(a engine.Attempt) []engine.Event {
			return []engine.Event{
				{Ref: a.Ref, Kind: engine.EventPlaced, Node: "n1"},
				{Ref: a.Ref, Kind: engine.EventNoCapacity, Reason: "1 of 2 nodes placed"},
			}
		}
		h.eng.SetScript(byAttempt(partly, enginetest.Succeed))
		id := h.submit(oneTask("half"))
		if j := h.waitTerminal(id); j.Status != api.StatusSucceeded {
			t.Fatalf("status %s, want SUCCEEDED on the next candidate", j.Status)
		}
		want := []string{"us-east-1", "us-west-2"}
		if diff := cmp.Diff(want, regions(h.launchesOf(id))); diff != "" {
			t.Errorf("regions (-want +got):\n%s", diff)
		}
	})
	t.Run("FAILED_NO_RESOURCE after MaxLaunchRetries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.MaxLaunchRetries = 2 })
		h.eng.SetScript(enginetest.NoCap)
		id := h.submit(oneTask("busy"))
		j := h.waitTerminal(id)
		if j.Status != api.StatusFailedNoResource ||
			!strings.Contains(j.FailureReason, "after 2 launch tries; last: GCP (us-central1) n2-standard-2: no nodes") {
			t.Errorf("status %s (%s), want FAILED_NO_RESOURCE after 2 launch tries", j.Status, j.FailureReason)
		}
		if n := len(h.launchesOf(id)); n != 8 {
			t.Errorf("%d launches, want 8 (two plans of four)", n)
		}
	})
	t.Run("an attempt not placed in time", func(t *testing.T) {
		t.Parallel()
		// Long enough that attempt 2's placement, played at once, always
		// comes first, even on a loaded machine.
		h := newHarness(t, func(c *Config) { c.NoCapacityTimeout = 250 * time.Millisecond })
		h.eng.SetScript(byAttempt(func(engine.Attempt) []engine.Event { return nil }, enginetest.Succeed))
		id := h.submit(oneTask("slow"))
		j := h.waitTerminal(id)
		if j.Status != api.StatusSucceeded || j.Tasks[0].Attempt != 2 {
			t.Errorf("status %s attempt %d, want SUCCEEDED on attempt 2", j.Status, j.Tasks[0].Attempt)
		}
		if log := h.controllerLog(id); !strings.Contains(log, "attempt 1: no capacity on AWS (us-east-1) m6i.large: not placed within 250ms") {
			t.Errorf("controller log:\n%s", log)
		}
	})
}

func TestPrechecks(t *testing.T) {
	t.Parallel()
	t.Run("nothing fits", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		id := h.submit(oneTask("azure", func(tk *task.Task) { tk.Candidates[0].Infra.Cloud = "azure" }))
		j, err := h.ctl.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != api.StatusFailedPrechecks || j.FailureReason != `task 0 (azure): no offering fits: nothing for "azure"` {
			t.Errorf("status %s (%s), want FAILED_PRECHECKS at once", j.Status, j.FailureReason)
		}
		if n := len(h.eng.Launches()); n != 0 {
			t.Errorf("%d launches, want none", n)
		}
	})
	t.Run("the engine says infeasible", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Engine = checkingEngine{c.Engine.(*enginetest.Fake)}
		})
		id := h.submit(oneTask("gpu", func(tk *task.Task) {
			tk.Candidates[0].Accelerators = []task.Accelerator{{Name: "H100", Count: 8}}
		}))
		j := h.waitTerminal(id)
		if j.Status != api.StatusFailedPrechecks || !strings.Contains(j.FailureReason, "this host has no H100") {
			t.Errorf("status %s (%s)", j.Status, j.FailureReason)
		}
		ok := h.submit(oneTask("cpu"))
		if j := h.waitTerminal(ok); j.Status != api.StatusSucceeded {
			t.Errorf("a feasible job: %s", j.Status)
		}
	})
	t.Run("launch refused as infeasible", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
			return engine.Infeasible("image not found")
		})
		id := h.submit(oneTask("img"))
		j := h.waitTerminal(id)
		if j.Status != api.StatusFailedPrechecks || j.FailureReason != "image not found" {
			t.Errorf("status %s (%s)", j.Status, j.FailureReason)
		}
	})
}

type checkingEngine struct{ *enginetest.Fake }

func (e checkingEngine) Check(t task.Task) error {
	for _, c := range t.Candidates {
		for _, a := range c.Accelerators {
			return engine.Infeasible("this host has no %s", a.Name)
		}
	}
	return nil
}

func pipeline(name string, n int) task.DAG {
	dag := task.DAG{Name: name, Pipeline: true}
	for i := range n {
		dag.Tasks = append(dag.Tasks, task.Task{Name: fmt.Sprintf("step%d", i), NumNodes: 1, Candidates: []task.Resources{{}}})
	}
	return dag
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	t.Run("all tasks in order", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		id := h.submit(pipeline("pipe", 3))
		j := h.waitTerminal(id)
		var got []api.Status
		for _, tk := range j.Tasks {
			got = append(got, tk.Status)
		}
		if diff := cmp.Diff([]api.Status{api.StatusSucceeded, api.StatusSucceeded, api.StatusSucceeded}, got); diff != "" || j.Status != api.StatusSucceeded {
			t.Errorf("job %s; tasks (-want +got):\n%s", j.Status, diff)
		}
		if !j.Pipeline {
			t.Error("not reported as a pipeline")
		}
		launches := h.launchesOf(id)
		var tasks []int
		for _, a := range launches {
			tasks = append(tasks, a.Ref.Task)
		}
		if diff := cmp.Diff([]int{0, 1, 2}, tasks); diff != "" {
			t.Errorf("launched tasks (-want +got):\n%s", diff)
		}
		env := map[string]string{}
		for _, e := range launches[1].Env {
			env[e.Name] = e.Value
		}
		ids := strings.Split(env["SKYPILOT_TASK_IDS"], "\n")
		if len(ids) != 3 || ids[1] != env["SKYPILOT_TASK_ID"] || !strings.HasSuffix(ids[1], "_pipe_step1_"+itoa(id)+"-1") {
			t.Errorf("task ids %q, own %q", ids, env["SKYPILOT_TASK_ID"])
		}
	})
	t.Run("a failed task cancels the rest", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.eng.SetScript(func(a engine.Attempt) []engine.Event {
			if a.Ref.Task == 1 {
				return enginetest.Exit(a, engine.PhaseRun, 9)
			}
			return enginetest.Succeed(a)
		})
		id := h.submit(pipeline("pipe", 3))
		j := h.waitTerminal(id)
		var got []api.Status
		for _, tk := range j.Tasks {
			got = append(got, tk.Status)
		}
		want := []api.Status{api.StatusSucceeded, api.StatusFailed, api.StatusCancelled}
		if diff := cmp.Diff(want, got); diff != "" || j.Status != api.StatusFailed || j.FailureReason != "run exited with code 9" {
			t.Errorf("job %s (%s); tasks (-want +got):\n%s", j.Status, j.FailureReason, diff)
		}
		for _, a := range h.launchesOf(id) {
			if a.Ref.Task == 2 {
				t.Error("task 2 was launched")
			}
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	t.Run("pending and running", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.MaxRunning = 1 })
		h.eng.SetScript(enginetest.Place)
		running := h.submit(oneTask("running"))
		h.waitStatus(running, api.StatusRunning)
		pending := h.submit(oneTask("pending"))
		h.sync()
		if j, _ := h.ctl.Job(context.Background(), pending); j.Status != api.StatusPending {
			t.Fatalf("second job %s, want PENDING behind MaxRunning 1", j.Status)
		}
		got, err := h.ctl.Cancel(context.Background(), api.CancelRequest{JobIDs: []int64{pending}})
		if err != nil || len(got) != 1 || got[0] != pending {
			t.Fatalf("Cancel = %v, %v", got, err)
		}
		if j, _ := h.ctl.Job(context.Background(), pending); j.Status != api.StatusCancelled {
			t.Errorf("pending job after cancel: %s, want CANCELLED at once", j.Status)
		}
		if _, err := h.ctl.Cancel(context.Background(), api.CancelRequest{Name: "running"}); err != nil {
			t.Fatal(err)
		}
		j := h.waitTerminal(running)
		if j.Status != api.StatusCancelled {
			t.Errorf("running job: %s", j.Status)
		}
		if live := h.eng.Live(); len(live) != 0 {
			t.Errorf("attempts left running: %v", live)
		}
		if n := len(h.launchesOf(pending)); n != 0 {
			t.Errorf("the pending job was launched %d times", n)
		}
		log := h.controllerLog(running)
		if !strings.Contains(log, "cancel requested") || !strings.Contains(log, "job finished: CANCELLED") {
			t.Errorf("controller log:\n%s", log)
		}
	})
	t.Run("while launching", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		release := make(chan struct{})
		h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
			<-release
			return nil
		})
		h.eng.SetScript(enginetest.Place)
		id := h.submit(oneTask("slow"))
		h.wait(id, "STARTING", func(j api.Job) bool { return j.Status == api.StatusStarting })
		if _, err := h.ctl.Cancel(context.Background(), api.CancelRequest{JobIDs: []int64{id}}); err != nil {
			t.Fatal(err)
		}
		h.waitStatus(id, api.StatusCancelling)
		close(release)
		j := h.waitTerminal(id)
		if j.Status != api.StatusCancelled {
			t.Errorf("status %s", j.Status)
		}
		if live := h.eng.Live(); len(live) != 0 {
			t.Errorf("the attempt launched during the cancel was left running: %v", live)
		}
	})
	t.Run("during recovery", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		release := make(chan struct{})
		h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
			if a.Ref.Attempt == 2 {
				<-release
			}
			return nil
		})
		h.eng.SetScript(byAttempt(enginetest.Preempted, enginetest.Place))
		id := h.submit(oneTask("spot"))
		h.waitLaunched(engine.Ref{JobID: id, Task: 0, Attempt: 1})
		h.wait(id, "recovering", func(j api.Job) bool { return j.Tasks[0].Attempt == 2 })
		if _, err := h.ctl.Cancel(context.Background(), api.CancelRequest{All: true}); err != nil {
			t.Fatal(err)
		}
		close(release)
		if j := h.waitTerminal(id); j.Status != api.StatusCancelled {
			t.Errorf("status %s", j.Status)
		}
		if live := h.eng.Live(); len(live) != 0 {
			t.Errorf("attempts left running: %v", live)
		}
	})
	t.Run("selectors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, tc := range []struct {
			req  api.CancelRequest
			kind ErrorKind
		}{
			{api.CancelRequest{}, KindInvalid},
			{api.CancelRequest{JobIDs: []int64{1}, All: true}, KindInvalid},
			{api.CancelRequest{Name: "a", Pool: "p"}, KindInvalid},
			{api.CancelRequest{JobIDs: []int64{99}}, KindNotFound},
		} {
			if _, err := h.ctl.Cancel(context.Background(), tc.req); KindOf(err) != tc.kind {
				t.Errorf("Cancel(%+v) = %v, want kind %d", tc.req, err, tc.kind)
			}
		}
		done := h.submit(oneTask("done"))
		h.waitTerminal(done)
		got, err := h.ctl.Cancel(context.Background(), api.CancelRequest{JobIDs: []int64{done}})
		if err != nil || len(got) != 0 {
			t.Errorf("cancelling a finished job = %v, %v; want nothing cancelled", got, err)
		}
	})
}

func TestOperatorStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("victim"))
	h.waitStatus(id, api.StatusRunning)
	h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: id, Task: 0, Attempt: 1}, Kind: engine.EventOperatorStopped, Reason: "nomad job stop"})
	j := h.waitTerminal(id)
	if j.Status != api.StatusCancelled || j.FailureReason != "stopped outside skynomad: nomad job stop" {
		t.Errorf("status %s (%s)", j.Status, j.FailureReason)
	}
}

func TestStaleAndDuplicateEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(byAttempt(enginetest.Preempted, enginetest.Place))
	id := h.submit(oneTask("dup"))
	h.wait(id, "attempt 2 running", func(j api.Job) bool {
		return j.Tasks[0].Attempt == 2 && j.Status == api.StatusRunning
	})
	old := engine.Ref{JobID: id, Task: 0, Attempt: 1}
	cur := engine.Ref{JobID: id, Task: 0, Attempt: 2}
	// Events for the preempted attempt are ignored; duplicates are harmless.
	h.eng.Emit(engine.Event{Ref: old, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 1})
	h.eng.Emit(engine.Event{Ref: old, Kind: engine.EventPreempted})
	h.eng.Emit(engine.Event{Ref: cur, Kind: engine.EventPlaced, Node: "n"})
	h.eng.Emit(engine.Event{Ref: cur, Kind: engine.EventRunning})
	h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: id, Task: 7, Attempt: 1}, Kind: engine.EventExited})
	h.sync()
	j, _ := h.ctl.Job(context.Background(), id)
	if j.Status != api.StatusRunning || j.Tasks[0].Recoveries != 1 {
		t.Fatalf("after stale events: %s recoveries %d", j.Status, j.Tasks[0].Recoveries)
	}
	h.eng.Emit(engine.Event{Ref: cur, Kind: engine.EventExited, Phase: engine.PhaseRun})
	h.eng.Emit(engine.Event{Ref: cur, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 3})
	if j := h.waitTerminal(id); j.Status != api.StatusSucceeded {
		t.Errorf("status %s", j.Status)
	}
}

func TestControllerErrorFailsOneJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var mu sync.Mutex
	calls := map[string]int{}
	h.plan.Hook = func(tk task.Task, _ catalog.Constraints) {
		mu.Lock()
		calls[tk.Name]++
		n := calls[tk.Name]
		mu.Unlock()
		if tk.Name == "boom" && n > 1 { // not the precheck: the plan of the launch
			panic("planner exploded")
		}
	}
	boom := h.submit(oneTask("boom"))
	j := h.waitTerminal(boom)
	if j.Status != api.StatusFailedController || !strings.Contains(j.FailureReason, "panic: planner exploded") {
		t.Errorf("status %s (%s), want FAILED_CONTROLLER", j.Status, j.FailureReason)
	}
	fine := h.submit(oneTask("fine"))
	if j := h.waitTerminal(fine); j.Status != api.StatusSucceeded {
		t.Errorf("the other job: %s", j.Status)
	}
}

func TestNumJobsRanks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ids, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("batch"), User: "bob", NumJobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[1] != ids[0]+1 || ids[2] != ids[1]+1 {
		t.Fatalf("ids %v, want three consecutive", ids)
	}
	for rank, id := range ids {
		j := h.waitTerminal(id)
		if j.Tasks[0].JobRank != rank || j.Tasks[0].NumJobs != 3 {
			t.Errorf("job %d: rank %d of %d, want %d of 3", id, j.Tasks[0].JobRank, j.Tasks[0].NumJobs, rank)
		}
		env := map[string]string{}
		for _, e := range h.launchesOf(id)[0].Env {
			env[e.Name] = e.Value
		}
		if env["SKYPILOT_JOB_RANK"] != itoa(int64(rank)) || env["SKYPILOT_NUM_JOBS"] != "3" {
			t.Errorf("job %d env rank %s of %s", id, env["SKYPILOT_JOB_RANK"], env["SKYPILOT_NUM_JOBS"])
		}
	}
	if _, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("p"), Pool: "workers"}); !IsNotFound(err) ||
		!strings.Contains(err.Error(), "jobs pool apply -p workers") {
		t.Errorf("submit to a pool that does not exist: %v, want not found, naming how to create it", err)
	}
	if _, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: task.DAG{Name: "empty"}}); !IsInvalid(err) {
		t.Errorf("empty DAG: %v, want invalid", err)
	}
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxLaunching = 1 })
	release := make(chan struct{})
	h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		if a.JobName == "blocker" {
			<-release
		}
		return nil
	})
	h.eng.SetScript(enginetest.Place)
	blocker := h.submit(oneTask("blocker"))
	h.waitStatus(blocker, api.StatusStarting)
	names := []struct {
		name string
		prio int
	}{{"a", 0}, {"b", 10}, {"c", 0}, {"d", 5}, {"e", -5}}
	var ids []int64
	for _, n := range names {
		ids = append(ids, h.submit(oneTask(n.name, withPriority(n.prio))))
	}
	h.sync()
	for _, id := range ids {
		if j, _ := h.ctl.Job(context.Background(), id); j.Status != api.StatusPending {
			t.Fatalf("job %d is %s while the only launch slot is taken", id, j.Status)
		}
	}
	close(release)
	for _, id := range ids {
		h.waitStatus(id, api.StatusRunning)
	}
	var order []string
	for _, a := range h.eng.Launches() {
		order = append(order, a.JobName)
	}
	if diff := cmp.Diff([]string{"blocker", "b", "d", "a", "c", "e"}, order); diff != "" {
		t.Errorf("launch order (-want +got):\n%s", diff)
	}
}

func TestMaxLaunching(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxLaunching = 2 })
	release := make(chan struct{})
	h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	h.eng.SetScript(enginetest.Place)
	var ids []int64
	for i := range 5 {
		ids = append(ids, h.submit(oneTask(fmt.Sprintf("j%d", i))))
	}
	h.sync()
	count := func() map[api.Status]int {
		res, err := h.ctl.Queue(context.Background(), api.QueueRequest{All: true})
		if err != nil {
			t.Fatal(err)
		}
		m := map[api.Status]int{}
		for _, j := range res.Jobs {
			m[j.Status]++
		}
		return m
	}
	if diff := cmp.Diff(map[api.Status]int{api.StatusStarting: 2, api.StatusPending: 3}, count()); diff != "" {
		t.Errorf("statuses with 2 launch slots (-want +got):\n%s", diff)
	}
	close(release)
	for _, id := range ids {
		h.waitStatus(id, api.StatusRunning)
	}
	if diff := cmp.Diff(map[api.Status]int{api.StatusRunning: 5}, count()); diff != "" {
		t.Errorf("statuses after release (-want +got):\n%s", diff)
	}
}

func TestPreemptAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("spot"))
	h.waitStatus(id, api.StatusRunning)
	if err := h.ctl.Preempt(context.Background(), id, api.PreemptRequest{NoticeSeconds: 30}); err != nil {
		t.Fatal(err)
	}
	j := h.wait(id, "recovered", func(j api.Job) bool { return j.Tasks[0].Recoveries == 1 && j.Status == api.StatusRunning })
	if j.Tasks[0].Attempt != 2 {
		t.Errorf("attempt %d, want 2", j.Tasks[0].Attempt)
	}
	log := h.controllerLog(id)
	if !strings.Contains(log, "preemption notice at") || !strings.Contains(log, "attempt 1 preempted on node fake-node: injected") {
		t.Errorf("controller log:\n%s", log)
	}
	if err := h.ctl.Preempt(context.Background(), id, api.PreemptRequest{Task: 3}); !IsNotFound(err) {
		t.Errorf("unknown task: %v", err)
	}
	if err := h.ctl.Preempt(context.Background(), 999, api.PreemptRequest{}); !IsNotFound(err) {
		t.Errorf("unknown job: %v", err)
	}
	h.ctl.Cancel(context.Background(), api.CancelRequest{All: true})
	h.waitTerminal(id)
	if err := h.ctl.Preempt(context.Background(), id, api.PreemptRequest{}); !IsConflict(err) {
		t.Errorf("finished job: %v, want conflict", err)
	}

	h2 := newHarness(t, func(c *Config) { c.Engine = plainEngine{c.Engine} })
	h2.eng.SetScript(enginetest.Place)
	id2 := h2.submit(oneTask("spot"))
	h2.waitStatus(id2, api.StatusRunning)
	err := h2.ctl.Preempt(context.Background(), id2, api.PreemptRequest{})
	if !IsUnsupported(err) || err.Error() != "engine fake cannot inject preemptions" {
		t.Errorf("engine without Preempter: %v", err)
	}
}

// plainEngine hides the fake's optional capabilities.
type plainEngine struct{ engine.Engine }

// TestWithCatalogPlanner runs the controller on the real optimizer with
// this host's offering.
func TestWithCatalogPlanner(t *testing.T) {
	t.Parallel()
	local := catalog.Offering{Cloud: catalog.LocalCloud, Region: catalog.LocalCloud, InstanceType: "host",
		VCPUs: 4, MemoryGB: 16}
	h := newHarness(t, func(c *Config) { c.Planner = catalog.New([]catalog.Offering{local}) })
	id := h.submit(oneTask("hello"))
	j := h.waitTerminal(id)
	if j.Status != api.StatusSucceeded || j.Tasks[0].Requested != "1x [CPU:1+]" {
		t.Errorf("status %s requested %q", j.Status, j.Tasks[0].Requested)
	}
	gpu := h.submit(oneTask("gpu", func(tk *task.Task) {
		tk.Candidates[0].Accelerators = []task.Accelerator{{Name: "A100", Count: 8}}
	}))
	j = h.waitTerminal(gpu)
	if j.Status != api.StatusFailedPrechecks || !strings.HasPrefix(j.FailureReason, "task 0 (gpu): no offering fits: ") {
		t.Errorf("status %s (%s)", j.Status, j.FailureReason)
	}
	if j.Tasks[0].Requested != "1x [A100:8]" {
		t.Errorf("requested %q", j.Tasks[0].Requested)
	}
}

// queuingEngine is a FakeEngine whose scheduler queues launched attempts.
type queuingEngine struct{ *enginetest.Fake }

func (queuingEngine) QueuesLaunches() bool { return true }

// With an engine that queues placements (Nomad), a launch slot is given
// back as soon as Launch returns: every job reaches the engine even though
// none is running yet.
func TestQueuingEngineFreesLaunchSlots(t *testing.T) {
	t.Parallel()
	var eng queuingEngine
	h := newHarness(t, func(c *Config) {
		c.MaxLaunching = 1
		eng = queuingEngine{c.Engine.(*enginetest.Fake)}
		eng.SetScript(func(engine.Attempt) []engine.Event { return nil }) // never placed
		c.Engine = eng
	})
	var ids []int64
	for i := range 4 {
		ids = append(ids, h.submit(oneTask(fmt.Sprintf("q%d", i))))
	}
	for _, id := range ids {
		h.waitLaunched(engine.Ref{JobID: id, Task: 0, Attempt: 1})
		if j, _ := h.ctl.Job(context.Background(), id); j.Status != api.StatusStarting {
			t.Errorf("job %d: %s, want STARTING (queued by the engine)", id, j.Status)
		}
	}
}

// An attempt lost before any of the task ran (its node went while it was
// still being placed, or a crash cut its launch short) is launched again:
// nothing ran, so nothing is recovered and #RECOVERIES stays 0.
func TestLostBeforeStartIsNotARecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lostEarly := func(a engine.Attempt) []engine.Event {
		return []engine.Event{
			{Ref: a.Ref, Kind: engine.EventPlaced, Node: "n1"},
			{Ref: a.Ref, Kind: engine.EventPreempted, Node: "n1", Reason: "runner vanished (rank 0)"},
		}
	}
	h.eng.SetScript(byAttempt(lostEarly, enginetest.Succeed))
	id := h.submit(oneTask("early"))
	j := h.waitTerminal(id)
	if j.Status != api.StatusSucceeded || j.Tasks[0].Recoveries != 0 || j.Tasks[0].Attempt != 2 {
		t.Errorf("status %s, recoveries %d, attempt %d; want SUCCEEDED with 0 recoveries on attempt 2",
			j.Status, j.Tasks[0].Recoveries, j.Tasks[0].Attempt)
	}
	log := h.controllerLog(id)
	if !strings.Contains(log, "attempt 1 was lost on node n1 before the task started: runner vanished (rank 0); launching again") {
		t.Errorf("controller log:\n%s", log)
	}
	if strings.Contains(log, "RECOVERING") || strings.Contains(log, "recovering") {
		t.Errorf("the job was reported recovering:\n%s", log)
	}
}

// Failed launch calls (the engine is unreachable) are retried with backoff
// and count against MaxLaunchRetries: the job ends FAILED_NO_RESOURCE with
// the last error, never retried forever.
func TestFailedLaunchesEndFailedNoResource(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxLaunchRetries = 3 })
	h.eng.SetLaunchHook(func(ctx context.Context, a *engine.Attempt) error {
		return errors.New("nomad: connection refused")
	})
	id := h.submit(oneTask("offline"))
	j := h.waitTerminal(id)
	want := "task 0 (offline) could not be launched in 3 tries: nomad: connection refused"
	if j.Status != api.StatusFailedNoResource || j.FailureReason != want {
		t.Errorf("status %s (%s), want FAILED_NO_RESOURCE (%s)", j.Status, j.FailureReason, want)
	}
}

// A job ends when its task ended, even if the controller hears of it
// later (it was restarted meanwhile).
func TestJobEndsWhenItsTaskEnded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	h.eng.SetScript(func(a engine.Attempt) []engine.Event {
		return []engine.Event{
			{Ref: a.Ref, Kind: engine.EventPlaced, Node: "n1", Time: t0},
			{Ref: a.Ref, Kind: engine.EventRunning, Time: t0.Add(time.Second)},
			{Ref: a.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Time: t0.Add(3 * time.Second)},
		}
	})
	id := h.submit(oneTask("past"))
	j := h.waitTerminal(id)
	if j.EndedAt == nil || !j.EndedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("job ended at %v, want %v", j.EndedAt, t0.Add(3*time.Second))
	}
	if got := time.Duration(j.JobDuration); got != 2*time.Second {
		t.Errorf("job duration %s, want 2s", got)
	}
}

// Local paths are the submitting user's: a relative one reaching the
// controller is refused, never resolved against the controller's directory.
func TestRelativeLocalPathsAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, mod := range []func(*task.Task){
		func(tk *task.Task) { tk.Workdir = &task.Workdir{Path: "./wd"} },
		func(tk *task.Task) { tk.Mounts = []task.Mount{{Dest: "/data", Source: "data"}} },
	} {
		_, err := h.ctl.Submit(context.Background(), api.LaunchRequest{DAG: oneTask("rel", mod)})
		if !IsInvalid(err) || !strings.Contains(err.Error(), "local paths must be absolute") {
			t.Errorf("Submit = %v, want an invalid request naming the relative path", err)
		}
	}
	if n := len(h.eng.Launches()); n != 0 {
		t.Errorf("%d launches, want none", n)
	}
}

// TestDemand: what skynomad-apm reads, nodes per offering for every
// unfinished attempt, and none once the jobs end.
func TestDemand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	two := h.submit(oneTask("two-nodes", func(tk *task.Task) { tk.NumNodes = 2 }))
	one := h.submit(oneTask("one-node"))
	h.waitStatus(two, api.StatusRunning)
	h.waitStatus(one, api.StatusRunning)

	d, err := h.ctl.Demand(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"sky-aws-us-east-1-m6i.large-on-demand": 3}
	if diff := cmp.Diff(want, d.Nodes); diff != "" {
		t.Errorf("demand while running (-want +got):\n%s", diff)
	}

	for _, id := range []int64{two, one} {
		h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: id, Task: 0, Attempt: 1}, Kind: engine.EventExited, Phase: engine.PhaseRun})
		h.waitTerminal(id)
	}
	d, err = h.ctl.Demand(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) != 0 {
		t.Errorf("demand after the jobs ended = %v, want none", d.Nodes)
	}
}
