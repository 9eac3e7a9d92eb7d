package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/jobs/api"
)

// contains fails the test unless every want is in got, in that order.
func containsInOrder(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	rest := got
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("%s: %q missing (or out of order) in:\n%s", what, w, got)
		}
		rest = rest[i+len(w):]
	}
}

func TestHelloSucceeds(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/hello.yaml")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		id := jobID(t, r)
		containsInOrder(t, "launch output", r.stdout,
			"Task from YAML spec: testdata/hello.yaml",
			"Managed job 'hello' will be launched on (estimated):",
			"Considered resources (1 node):",
			"INFRA", "CHOSEN", "✔",
			fmt.Sprintf("Managed Job ID: %d", id),
			"Running setup.",
			"Hello, skynomad!",
			fmt.Sprintf("✓ Managed job finished: %d (status: SUCCEEDED).", id),
			// After the job's output, as with sky jobs launch.
			"📋 Useful Commands",
			"├── To cancel the job:", fmt.Sprintf("skynomad jobs cancel %d", id),
			"└── To view all managed jobs:",
		)
		j := h.waitEnd(id)
		if j.Status != api.StatusSucceeded {
			t.Fatalf("status %s, want SUCCEEDED:\n%s", j.Status, dump(j))
		}
		if h.target.engine == "nomad" {
			h.checkNomadJob(id, 0, 1)
		}
		for _, args := range [][]string{
			{"jobs", "logs", strconv.FormatInt(id, 10)},
			{"jobs", "logs", "--no-follow"},
			{"jobs", "logs", "-n", "hello", "--no-follow"},
		} {
			logs := h.mustRun(args...)
			containsInOrder(t, strings.Join(args, " "), logs.stdout, "Running setup.", "Hello, skynomad!", "task id: sky-managed-")
		}
	})
}

func TestRunExitCodeFails(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/exit7.yaml")
		id := jobID(t, r)
		if r.code != 100 {
			t.Fatalf("want exit 100 (FAILED):\n%s", r)
		}
		containsInOrder(t, "launch output", r.stdout, "about to exit 7", fmt.Sprintf("✗ Managed job finished: %d (status: FAILED).", id))
		j := h.waitEnd(id)
		if j.Status != api.StatusFailed || j.Tasks[0].ExitCode == nil || *j.Tasks[0].ExitCode != 7 {
			t.Fatalf("want FAILED with exit code 7:\n%s", dump(j))
		}
		table := h.mustRun("jobs", "queue", "-v").stdout
		if got := column(t, table, strconv.FormatInt(id, 10), "EXIT CODE"); got != "7" {
			t.Errorf("queue -v EXIT CODE = %q, want 7:\n%s", got, table)
		}
		if got := column(t, table, strconv.FormatInt(id, 10), "STATUS"); got != "FAILED" {
			t.Errorf("queue -v STATUS = %q, want FAILED:\n%s", got, table)
		}
		ctl := h.mustRun("jobs", "logs", "--controller", "--no-follow", strconv.FormatInt(id, 10)).stdout
		if !strings.Contains(ctl, "code 7") {
			t.Errorf("controller log does not mention exit code 7:\n%s", ctl)
		}
	})
}

func TestFailingSetupEndsFailedSetup(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/failing-setup.yaml")
		id := jobID(t, r)
		if r.code != 101 {
			t.Fatalf("want exit 101 (FAILED_SETUP):\n%s", r)
		}
		j := h.waitEnd(id)
		if j.Status != api.StatusFailedSetup {
			t.Fatalf("status %s, want FAILED_SETUP:\n%s", j.Status, dump(j))
		}
		logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
		containsInOrder(t, "logs", logs, "installing...")
		if strings.Contains(logs, "never runs") {
			t.Errorf("run executed after a failed setup:\n%s", logs)
		}
	})
}

func TestRestartsOnErrors(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		id := h.launch("restarts.yaml")
		j := h.waitEnd(id)
		removeFlakyMarkers(id)
		if j.Status != api.StatusSucceeded {
			t.Fatalf("status %s, want SUCCEEDED:\n%s", j.Status, dump(j))
		}
		if tk := j.Tasks[0]; tk.Restarts != 2 || tk.Recoveries != 0 {
			t.Errorf("restarts %d, recoveries %d; want 2, 0:\n%s", tk.Restarts, tk.Recoveries, dump(j))
		}
		logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
		containsInOrder(t, "logs", logs, "attempt 2 succeeds")
	})
}

// removeFlakyMarkers deletes restarts.yaml's markers of a finished job
// ("3": its last attempt, which never reads it again).
func removeFlakyMarkers(id int64) {
	files, _ := filepath.Glob(fmt.Sprintf("/tmp/skynomad-flaky-*_%d-0", id))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "3" {
			os.Remove(f)
		}
	}
}

func TestPreemptedTwiceRecovers(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		release, attempts := filepath.Join(h.work, "release"), filepath.Join(h.work, "attempts")
		id := h.launch("wait-release.yaml", "--env", "RELEASE="+release, "--env", "ATTEMPTS="+attempts)
		sid := strconv.FormatInt(id, 10)
		for n := 1; n <= 3; n++ {
			// The n-th attempt's run is executing.
			h.waitLines(id, attempts, n)
			h.waitJob(id, fmt.Sprintf("RUNNING attempt %d", n), func(j api.Job) bool {
				return j.Status == api.StatusRunning && j.Tasks[0].Attempt == n
			})
			if n < 3 {
				h.preempt(id)
			}
		}
		if err := os.WriteFile(release, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		j := h.waitEnd(id)
		if j.Status != api.StatusSucceeded {
			t.Fatalf("status %s, want SUCCEEDED:\n%s", j.Status, dump(j))
		}
		if j.Recoveries != 2 || j.Tasks[0].Recoveries != 2 || j.Tasks[0].Restarts != 0 {
			t.Errorf("recoveries %d (task %d), restarts %d; want 2, 2, 0:\n%s", j.Recoveries, j.Tasks[0].Recoveries, j.Tasks[0].Restarts, dump(j))
		}
		if got := len(readLines(attempts)); got != 3 {
			t.Errorf("the task ran %d times, want 3", got)
		}
		table := h.mustRun("jobs", "queue").stdout
		if got := column(t, table, sid, "#RECOVERIES"); got != "2" {
			t.Errorf("#RECOVERIES = %q, want 2:\n%s", got, table)
		}
		if h.target.engine == "nomad" {
			h.checkNomadJob(id, 0, 3)
		}
	})
}

func TestPipelineStopsAtFailedTask(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		id := h.launch("pipeline-fails.yaml")
		j := h.waitEnd(id)
		want := []api.Status{api.StatusSucceeded, api.StatusFailed, api.StatusCancelled}
		if j.Status != api.StatusFailed || !slices.Equal(taskStatuses(j), want) {
			t.Fatalf("job %s tasks %v; want FAILED %v:\n%s", j.Status, taskStatuses(j), want, dump(j))
		}
		logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
		containsInOrder(t, "logs", logs, "first task ran", "second task fails")
		if strings.Contains(logs, "third task ran") {
			t.Errorf("the third task ran after the second failed:\n%s", logs)
		}
		table := h.mustRun("jobs", "queue").stdout
		containsInOrder(t, "queue", table, "pipe-fails", "↳", "first", "SUCCEEDED", "↳", "second", "FAILED", "↳", "third", "CANCELLED")
	})
}

func TestPipelineLogsShowEveryTask(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/pipeline-ok.yaml")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		id := jobID(t, r)
		every := []string{"output of prepare (task 0)", "setup of train", "output of train (task 1)", "output of evaluate (task 2)"}
		containsInOrder(t, "launch output", r.stdout, append(every, fmt.Sprintf("✓ Managed job finished: %d (status: SUCCEEDED).", id))...)
		sid := strconv.FormatInt(id, 10)
		containsInOrder(t, "logs", h.mustRun("jobs", "logs", "--no-follow", sid).stdout, every...)
		containsInOrder(t, "logs -n", h.mustRun("jobs", "logs", "-n", "pipe-ok").stdout, every...)
		for _, task := range []string{"train", "1"} {
			one := h.mustRun("jobs", "logs", "--no-follow", sid, task).stdout
			containsInOrder(t, "logs of task "+task, one, "output of train (task 1)")
			if strings.Contains(one, "output of prepare") || strings.Contains(one, "output of evaluate") {
				t.Errorf("logs of task %s show other tasks:\n%s", task, one)
			}
		}
	})
}

func TestCancelLeavesNoProcess(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		marker := fmt.Sprintf("e2e-cancel-%d-%d", os.Getpid(), time.Now().UnixNano())
		id := h.launch("sleeper.yaml", "--env", "MARKER="+marker)
		h.waitJob(id, "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
		h.waitUntil(id, "running processes", func() bool {
			return len(processesWithEnv("MARKER="+marker)) >= 2 // bash and its sleeps
		})
		r := h.mustRun("jobs", "cancel", "-y", strconv.FormatInt(id, 10))
		containsInOrder(t, "cancel output", r.stdout, fmt.Sprintf("Cancelled managed job(s) %d.", id))
		j, _ := h.job(id)
		if j.Status != api.StatusCancelled {
			t.Fatalf("status %s after cancel returned, want CANCELLED:\n%s", j.Status, dump(j))
		}
		if pids := processesWithEnv("MARKER=" + marker); len(pids) > 0 {
			t.Fatalf("processes of the cancelled job still alive: %v", pids)
		}
	})
}

func TestControllerKilledLosesNothing(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		out := filepath.Join(h.work, "out")
		var ids []int64
		for range 4 {
			ids = append(ids, h.launch("append-once.yaml", "--env", "OUT="+out, "--env", "SLEEP=3"))
		}
		h.waitJob(ids[0], "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
		pid := h.killController()
		// The next command starts a new controller, which resumes the jobs.
		for _, id := range ids {
			if j := h.waitEnd(id); j.Status != api.StatusSucceeded {
				t.Errorf("job %d ended %s, want SUCCEEDED:\n%s", id, j.Status, dump(j))
			}
		}
		if newPID, _ := h.controllerPID(); newPID == pid {
			t.Errorf("the controller pid did not change")
		}
		var want, got []string
		for _, id := range ids {
			want = append(want, strconv.FormatInt(id, 10))
		}
		got = readLines(out)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("each job must run exactly once; job ids appended (-want +got):\n%s", diff)
		}
	})
}

// A controller killed while it launches a burst of jobs loses none, runs
// none twice and invents no preemption: the launches it cut short are
// finished under the same attempt.
func TestControllerKilledDuringLaunchBurst(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		// A workdir with some weight, so that the sandboxes take a moment
		// to prepare and the kill lands while attempts are launching.
		wd := filepath.Join(h.work, "wd")
		if err := os.MkdirAll(wd, 0o755); err != nil {
			t.Fatal(err)
		}
		chunk := strings.Repeat("x", 32<<10)
		for i := range 100 {
			if err := os.WriteFile(filepath.Join(wd, fmt.Sprintf("f%03d", i)), []byte(chunk), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(h.work, "out")
		r := h.mustRun("jobs", "launch", "-y", "-d", "--num-jobs", "16", "--workdir", wd,
			"testdata/append-once.yaml", "--env", "OUT="+out, "--env", "SLEEP=1")
		h.killController()
		ids := submittedIDs(t, r)
		if len(ids) != 16 {
			t.Fatalf("%d job ids, want 16:\n%s", len(ids), r)
		}
		var want []string
		for _, id := range ids {
			j := h.waitEnd(id)
			if j.Status != api.StatusSucceeded || j.Recoveries != 0 {
				t.Errorf("job %d ended %s with %d recoveries, want SUCCEEDED with none:\n%s", id, j.Status, j.Recoveries, dump(j))
			}
			want = append(want, strconv.FormatInt(id, 10))
		}
		got := readLines(out)
		slices.Sort(got)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("each job must run exactly once; job ids appended (-want +got):\n%s", diff)
		}
	})
}

var submittedLine = regexp.MustCompile(`(?m)^Jobs submitted with IDs: ([0-9,]+)\.$`)

// submittedIDs reads the ids of `jobs launch --num-jobs N`.
func submittedIDs(t *testing.T, r result) []int64 {
	t.Helper()
	m := submittedLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no \"Jobs submitted with IDs:\" line:\n%s", r)
	}
	var ids []int64
	for _, f := range strings.Split(m[1], ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestInfeasibleIsRefusedAtLaunch(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/hello.yaml", "--gpus", h.target.infeasibleGPUs)
		if r.code != 102 {
			t.Fatalf("want exit 102 (FAILED_PRECHECKS):\n%s", r)
		}
		containsInOrder(t, "launch output", r.stdout, "Nothing can run task 'hello'")
		containsInOrder(t, "stderr", r.stderr, "nothing can run task 'hello'", "nothing was submitted")
		if strings.Contains(r.stdout, "Managed Job ID") {
			t.Errorf("a job was submitted:\n%s", r)
		}
		if jobs := h.queue(); len(jobs) != 0 {
			t.Errorf("the queue holds %d job(s), want none:\n%s", len(jobs), dump(jobs))
		}
	})
}

func TestBadYAMLNeverReachesController(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		r := h.run("jobs", "launch", "-y", "testdata/bad/unknown-field.yaml")
		if r.code != 1 {
			t.Fatalf("want exit 1:\n%s", r)
		}
		if first, _, _ := strings.Cut(r.stderr, "\n"); first != "testdata/bad/unknown-field.yaml:4:3: resources.accelerator: unknown field" {
			t.Errorf("first line of stderr %q, want path:line:col: field: message", first)
		}
		containsInOrder(t, "stderr", r.stderr, "\n  did you mean \"accelerators\"?\n", "  accepted: ", "accelerators")
		if h.target.engine == "local" {
			if _, err := os.Stat(filepath.Join(h.home, "controller.sock")); err == nil {
				t.Errorf("a controller was started for a file that does not load")
			}
		}
	})
}
