package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// The benchmarks run the built binary on the local engine. They are slow
// (minutes) and run only under -bench: `make bench`, or
//   go test -run '^$' -bench . -benchtime 1x ./e2e/

func localTarget() target { return targets()[0] }

// apiClient talks to the harness's controller directly.
func (h *harness) apiClient() *client.Client {
	h.t.Helper()
	c, err := client.New("unix://"+filepath.Join(h.home, "controller.sock"), "")
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// waitAll polls until no job matching req is in progress.
func waitAll(b *testing.B, c *client.Client, what string, timeout time.Duration, done func([]api.Job) bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := c.Queue(context.Background(), api.QueueRequest{All: true})
		if err != nil {
			b.Fatal(err)
		}
		if done(res.Jobs) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: not done after %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitIdle polls, cheaply (the in-progress counts, one row), until no job
// is in progress.
func waitIdle(b *testing.B, c *client.Client, what string, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := c.Queue(context.Background(), api.QueueRequest{All: true, Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		busy := 0
		for _, n := range res.InProgress {
			busy += n
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d still in progress after %s", what, busy, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(jobs []api.Job, ok func(api.Job) bool) int {
	n := 0
	for _, j := range jobs {
		if ok(j) {
			n++
		}
	}
	return n
}

// BenchmarkThousandShortJobs: 1,000 trivial jobs submitted in one launch on
// the local engine, until every one is SUCCEEDED; then, in the same run,
// 1,000 plain `bash -c 'setup; run'` spawned with the controller's launch
// parallelism (jobs.Config.MaxLaunching's default, 4 per CPU), and the
// ratio of the two times: skynomad's whole overhead per job (controller,
// SQLite, sandbox, runner) against the bare process spawns.
func BenchmarkThousandShortJobs(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		h := newHarness(b, localTarget())
		h.mustRun("jobs", "queue") // start the controller outside the timing
		c := h.apiClient()
		b.StartTimer()
		start := time.Now()
		h.mustRun("jobs", "launch", "-d", "-y", "--num-jobs", strconv.Itoa(n), "testdata/short.yaml")
		submitted := time.Since(start)
		waitIdle(b, c, "1000 short jobs", 15*time.Minute)
		total := time.Since(start)
		b.StopTimer()
		res, _ := c.Queue(context.Background(), api.QueueRequest{All: true})
		if ok := count(res.Jobs, func(j api.Job) bool { return j.Status == api.StatusSucceeded }); ok != n {
			b.Errorf("%d of %d jobs SUCCEEDED", ok, n)
		}
		h.shutdown()
		plain := bashSpawns(b, n, 4*runtime.NumCPU())
		b.ReportMetric(submitted.Seconds(), "submit-s")
		b.ReportMetric(total.Seconds(), "all-terminal-s")
		b.ReportMetric(float64(n)/total.Seconds(), "jobs/s")
		b.ReportMetric(plain.Seconds(), "bash-s")
		b.ReportMetric(total.Seconds()/plain.Seconds(), "ratio-to-bash")
		b.StartTimer()
	}
}

// bashSpawns runs n `bash -c 'true; true'` (a task's setup; run), at most
// parallel at once, and returns how long they took.
func bashSpawns(b *testing.B, n, parallel int) time.Duration {
	start := time.Now()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := exec.Command("bash", "-c", "true; true").Run(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkControllerMemory: the controller's resident memory while 1,000
// jobs run (each sleeps), per running job.
func BenchmarkControllerMemory(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		h := newHarness(b, localTarget())
		h.mustRun("jobs", "queue")
		pid, ok := h.controllerPID()
		if !ok {
			b.Fatal("no controller pid")
		}
		idle := vmKiB(b, pid, "VmRSS")
		c := h.apiClient()
		b.StartTimer()
		h.mustRun("jobs", "launch", "-d", "-y", "--num-jobs", strconv.Itoa(n), "testdata/sleep.yaml", "--env", "SECONDS_TO_SLEEP=600")
		waitAll(b, c, "1000 running jobs", 15*time.Minute, func(jobs []api.Job) bool {
			return count(jobs, func(j api.Job) bool { return j.Status == api.StatusRunning }) == n
		})
		b.StopTimer()
		rss, hwm := vmKiB(b, pid, "VmRSS"), vmKiB(b, pid, "VmHWM")
		b.ReportMetric(float64(idle), "idle-RSS-KiB")
		b.ReportMetric(float64(rss), "RSS-KiB")
		b.ReportMetric(float64(hwm), "peak-RSS-KiB")
		b.ReportMetric(float64(rss-idle)/n, "KiB/running-job")
		h.mustRun("jobs", "cancel", "-a", "-y")
		h.shutdown()
		b.StartTimer()
	}
}

// vmKiB reads a Vm* line of /proc/<pid>/status.
func vmKiB(b *testing.B, pid int, key string) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// BenchmarkQueueWith10kJobs: `jobs queue` with 10,000 finished jobs in
// the store.
func BenchmarkQueueWith10kJobs(b *testing.B) {
	const n = 10000
	h := newHarness(b, localTarget())
	seedFinished(b, filepath.Join(h.home, "state.db"), n)
	h.mustRun("jobs", "queue")
	c := h.apiClient()
	b.Run("cli-default", func(b *testing.B) {
		for range b.N {
			h.mustRun("jobs", "queue")
		}
	})
	b.Run("cli-all", func(b *testing.B) {
		for range b.N {
			h.mustRun("jobs", "queue", "-a")
		}
	})
	b.Run("api-all", func(b *testing.B) {
		for range b.N {
			res, err := c.Queue(context.Background(), api.QueueRequest{All: true})
			if err != nil || len(res.Jobs) != n {
				b.Fatalf("queue: %v, %d jobs", err, len(res.Jobs))
			}
		}
	})
}

// seedFinished writes n SUCCEEDED one-task jobs into a new store.
func seedFinished(b *testing.B, path string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	jobs := make([]store.Job, n)
	tasks := make([][]store.Task, n)
	for i := range n {
		at := now.Add(-time.Duration(n-i) * time.Minute)
		jobs[i] = store.Job{
			Name: fmt.Sprintf("seeded-%d", i), User: currentUser(), Status: api.StatusSucceeded,
			DAG:         task.DAG{Name: fmt.Sprintf("seeded-%d", i), Tasks: []task.Task{{Name: "seeded", NumNodes: 1, Run: "true"}}},
			SubmittedAt: at, StartedAt: at.Add(time.Second), EndedAt: at.Add(30 * time.Second), NumJobs: 1,
		}
		tasks[i] = []store.Task{{
			Index: 0, Name: "seeded", Status: api.StatusSucceeded, Requested: "1x [CPU:1+]", Attempt: 1,
			SubmittedAt: at, StartedAt: at.Add(time.Second), EndedAt: at.Add(30 * time.Second), RunTime: 29 * time.Second,
		}}
	}
	if _, err := st.CreateJobs(ctx, jobs, tasks); err != nil {
		b.Fatal(err)
	}
}

// currentUser is the name the CLI submits and filters jobs under.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// BenchmarkPreemptionRecovery: time from an injected preemption until the
// task is RUNNING again on a new attempt.
func BenchmarkPreemptionRecovery(b *testing.B) {
	h := newHarness(b, localTarget())
	release, attempts := filepath.Join(h.work, "release"), filepath.Join(h.work, "attempts")
	id := h.launch("wait-release.yaml", "--env", "RELEASE="+release, "--env", "ATTEMPTS="+attempts)
	c := h.apiClient()
	ctx := context.Background()
	waitRunning := func(attempt int) {
		deadline := time.Now().Add(h.target.wait)
		for {
			j, err := c.Job(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if j.Status == api.StatusRunning && j.Tasks[0].Attempt == attempt {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("attempt %d not RUNNING after %s:\n%s", attempt, h.target.wait, dump(j))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitRunning(1)
	b.ResetTimer()
	for i := range b.N {
		if err := c.Preempt(ctx, id, api.PreemptRequest{}); err != nil {
			b.Fatal(err)
		}
		waitRunning(i + 2)
	}
	b.StopTimer()
	os.WriteFile(release, nil, 0o644)
}
