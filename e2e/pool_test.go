package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// poolRun is a pool scenario's files: the pool and job YAMLs copied to a
// directory of their own (the user's project, outside the package) and the
// directory the tasks write to.
type poolRun struct {
	h       *harness
	project string
	logs    string
	name    string
	// worker is the pool file, in the project.
	worker string
}

// newPoolRun copies testdata's pool-job.yaml and the pool file worker
// (pool-worker.yaml, or a variant of it) into the project.
func newPoolRun(h *harness, name, worker string) *poolRun {
	h.t.Helper()
	p := &poolRun{h: h, project: filepath.Join(h.work, "project"), logs: filepath.Join(h.work, "logs"), name: name, worker: worker}
	for _, d := range []string{p.project, p.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			h.t.Fatal(err)
		}
	}
	for _, f := range []string{worker, "pool-job.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.project, f), b, 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	return p
}

// run runs skynomad in the project directory, with relative paths.
func (p *poolRun) run(args ...string) result {
	p.h.t.Helper()
	r := p.h.runIn(p.project, args...)
	if r.code != 0 {
		p.h.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

func (p *poolRun) status() api.Pool {
	p.h.t.Helper()
	r := p.run("jobs", "pool", "status", p.name, "-o", "json")
	var res api.PoolsResponse
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Pools) != 1 {
		p.h.t.Fatalf("pool status -o json: %v\n%s", err, r)
	}
	return res.Pools[0]
}

func (p *poolRun) waitPool(what string, cond func(api.Pool) bool) api.Pool {
	p.h.t.Helper()
	deadline := time.Now().Add(p.h.target.wait)
	for {
		ps := p.status()
		if cond(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			p.h.t.Fatalf("pool %s: still not %s after %s:\n%s", p.name, what, p.h.target.wait, dump(ps))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *poolRun) release(rank int) {
	p.h.t.Helper()
	if err := os.WriteFile(filepath.Join(p.logs, fmt.Sprintf("release-%d", rank)), nil, 0o644); err != nil {
		p.h.t.Fatal(err)
	}
}

// poolJobs returns the pool's jobs from the queue, by id.
func (p *poolRun) poolJobs() []api.Job {
	p.h.t.Helper()
	r := p.run("jobs", "queue", "-a", "-p", p.name, "-o", "json")
	var res api.QueueResponse
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		p.h.t.Fatalf("queue -o json: %v\n%s", err, r)
	}
	slices.SortFunc(res.Jobs, func(a, b api.Job) int { return int(a.ID - b.ID) })
	return res.Jobs
}

// runPos is where the pool file's run section's value starts, file:line:col.
func (p *poolRun) runPos() string {
	p.h.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.project, p.worker))
	if err != nil {
		p.h.t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "run: ") {
			return fmt.Sprintf("%s:%d:6", p.worker, i+1)
		}
	}
	p.h.t.Fatalf("%s has no run section", p.worker)
	return ""
}

// poolScenario is the pool story on one engine: a 2-worker pool, five
// jobs, a worker killed under its job (killWorker), a rolling update,
// then pool down. applied, when not nil, runs after each pool apply (on
// Nomad: what the operator does next, give the autoscaler the pool's
// policy).
func poolScenario(t *testing.T, p *poolRun, applied func(), killWorker func(w api.Worker)) {
	env := "LOG_DIR=" + p.logs
	r := p.run("jobs", "pool", "apply", "-y", "-p", p.name, p.worker, "--env", env)
	if !strings.Contains(r.stdout, fmt.Sprintf("Pool '%s' created", p.name)) || !strings.Contains(r.stderr, p.runPos()+": run: ignored in a pool file") {
		t.Fatalf("pool apply output:\n%s", r)
	}
	if applied != nil {
		applied()
	}
	// Submitted at once: visible and PENDING while the pool provisions.
	r = p.run("jobs", "launch", "-y", "-d", "-p", p.name, "--num-jobs", "5", "pool-job.yaml", "--env", env)
	if !strings.Contains(r.stderr, "pool-job.yaml:8:8: setup: ignored for a job submitted to pool "+p.name) {
		t.Errorf("no warning about the job's setup:\n%s", r)
	}
	jobs := p.poolJobs()
	if len(jobs) != 5 {
		t.Fatalf("%d jobs in the queue, want 5:\n%s", len(jobs), dump(jobs))
	}
	ids := make([]int64, 5)
	for i, j := range jobs {
		ids[i] = j.ID
		if j.Tasks[0].JobRank != i || j.Tasks[0].NumJobs != 5 {
			t.Errorf("job %d has rank %d of %d, want %d of 5", j.ID, j.Tasks[0].JobRank, j.Tasks[0].NumJobs, i)
		}
	}

	// Two run, three wait with the right reason.
	maxRunning := 0
	watchRunning := func() []api.Job {
		js := p.poolJobs()
		n := 0
		for _, j := range js {
			if j.Status == api.StatusRunning {
				n++
			}
		}
		maxRunning = max(maxRunning, n)
		return js
	}
	// Started, and RUNNING to the controller: on Nomad a task's start
	// reaches it a moment after the task runs, and a job whose node dies
	// before that has not run (it is launched again, no recovery).
	deadline := time.Now().Add(p.h.target.wait)
	for {
		running := 0
		for _, j := range watchRunning() {
			if j.Status == api.StatusRunning {
				running++
			}
		}
		if running == 2 && len(readLines(filepath.Join(p.logs, "runs.log"))) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two jobs never started:\n%s", dump(p.poolJobs()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	pending := 0
	for _, j := range watchRunning() {
		if j.Status == api.StatusPending {
			pending++
			if want := fmt.Sprintf("waiting for a free worker of pool %s (2/2 busy)", p.name); j.Details != want {
				t.Errorf("job %d waits with %q, want %q", j.ID, j.Details, want)
			}
		}
	}
	if pending != 3 {
		t.Errorf("%d jobs PENDING while both workers are busy, want 3", pending)
	}
	if n := len(readLines(filepath.Join(p.logs, "setups.log"))); n != 2 {
		t.Errorf("setup ran %d times for 2 workers, want 2:\n%s", n, strings.Join(readLines(filepath.Join(p.logs, "setups.log")), "\n"))
	}

	// Kill the worker under rank 0's job: the job recovers elsewhere.
	st := p.status()
	var victim api.Worker
	for _, w := range st.Worker {
		if w.Job == ids[0] {
			victim = w
		}
	}
	if victim.ID == 0 {
		t.Fatalf("no worker runs job %d:\n%s", ids[0], dump(st))
	}
	killWorker(victim)
	// Rank 1 ends: its worker (or the victim's replacement) takes rank 0.
	// On Nomad the job may first be given the dead worker again, before
	// Nomad reports the worker lost: that attempt is not launched (no
	// recovery), and the next one runs.
	p.release(1)
	j := p.h.waitJob(ids[0], "recovered on another worker", func(j api.Job) bool {
		watchRunning()
		return j.Status == api.StatusRunning && j.Tasks[0].Attempt >= 2
	})
	if j.Recoveries != 1 {
		t.Errorf("#RECOVERIES %d after its worker died, want 1", j.Recoveries)
	}
	// The pool replaced the worker: same worker, a new machine, setup again.
	p.waitPool("the killed worker replaced", func(ps api.Pool) bool {
		return ps.Ready == 2 && slices.ContainsFunc(ps.Worker, func(w api.Worker) bool { return w.ID == victim.ID && w.Replaced == 1 })
	})
	if n := len(readLines(filepath.Join(p.logs, "setups.log"))); n != 3 {
		t.Errorf("setup ran %d times, want 3 (2 workers, 1 replacement)", n)
	}

	// A changed setup rolls the workers while jobs run: none fails.
	p.run("jobs", "pool", "apply", "-y", "-p", p.name, p.worker, "--env", env, "--env", "SETUP_VERSION=2")
	if applied != nil {
		applied()
	}
	for _, rank := range []int{0, 2, 3, 4} {
		p.release(rank)
		time.Sleep(300 * time.Millisecond) // let the roll interleave with the jobs
		watchRunning()
	}
	for i, id := range ids {
		if j := p.h.waitEnd(id); j.Status != api.StatusSucceeded {
			t.Errorf("job %d (rank %d) ended %s, want SUCCEEDED:\n%s", id, i, j.Status, dump(j))
		}
	}
	if maxRunning > 2 {
		t.Errorf("saw %d jobs RUNNING at once on 2 workers", maxRunning)
	}
	ends := map[string]int{}
	for _, l := range readLines(filepath.Join(p.logs, "runs.log")) {
		if rank, ok := strings.CutPrefix(l, "end "); ok {
			ends[rank]++
		}
	}
	for rank := range 5 {
		if n := ends[strconv.Itoa(rank)]; n != 1 {
			t.Errorf("rank %d finished %d times, want once:\n%s", rank, n, strings.Join(readLines(filepath.Join(p.logs, "runs.log")), "\n"))
		}
	}
	ps := p.waitPool("rolled to version 2", func(ps api.Pool) bool {
		return ps.Status == api.PoolReady && ps.Version == 2 && !slices.ContainsFunc(ps.Worker, func(w api.Worker) bool { return w.Version != 2 })
	})
	if len(ps.Worker) != 2 {
		t.Errorf("%d workers after the roll, want 2", len(ps.Worker))
	}
	setups := readLines(filepath.Join(p.logs, "setups.log"))
	if slices.ContainsFunc(setups, func(l string) bool { return strings.Contains(l, "must not run") }) {
		t.Errorf("a pool job ran its own setup:\n%s", strings.Join(setups, "\n"))
	}
	if n := len(slices.DeleteFunc(slices.Clone(setups), func(l string) bool { return !strings.HasPrefix(l, "setup v2") })); n != 2 {
		t.Errorf("%d version-2 setups, want 2:\n%s", n, strings.Join(setups, "\n"))
	}

	r = p.run("jobs", "pool", "down", "-y", p.name)
	if !strings.Contains(r.stdout, fmt.Sprintf("Pool(s) '%s' terminated.", p.name)) {
		t.Errorf("pool down output:\n%s", r)
	}
	if r := p.run("jobs", "pool", "status"); !strings.Contains(r.stdout, "No pools.") {
		t.Errorf("pool status after down:\n%s", r)
	}
	if r := p.h.run("jobs", "launch", "-y", "-p", p.name, "testdata/hello.yaml"); r.code == 0 || !strings.Contains(r.stderr, "no pool named "+p.name) {
		t.Errorf("a job for the pool taken down:\n%s", r)
	}
}

func TestPoolOnLocalEngine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, targets()[0])
	p := newPoolRun(h, "batch", "pool-worker.yaml")
	poolScenario(t, p, nil, func(w api.Worker) {
		// kill -9 the worker's runner, as a crash of its machine would.
		lock := filepath.Join(h.home, "local", "attempts", fmt.Sprintf("%d-0-1", w.ID), "node-0", "runner.lock")
		b, err := os.ReadFile(lock)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.Fields(string(b))[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	})
	// Nothing of any worker is left on this host.
	entries, _ := os.ReadDir(filepath.Join(h.home, "local", "attempts"))
	for _, e := range entries {
		dir := filepath.Join(h.home, "local", "attempts", e.Name())
		if pids := processesWithEnv("SKYNOMAD_ATTEMPT_DIR=" + dir); len(pids) > 0 {
			t.Errorf("processes of %s left running: %v", e.Name(), pids)
		}
	}
}

// TestPoolSurvivesAControllerCrash: kill -9 of the controller while a pool
// job runs: the next controller gives the job its worker back; the job
// runs once, the worker's setup is not run again, the waiting job follows.
func TestPoolSurvivesAControllerCrash(t *testing.T) {
	t.Parallel()
	h := newHarness(t, targets()[0])
	p := newPoolRun(h, "crash", "pool-worker.yaml")
	env := "LOG_DIR=" + p.logs
	worker := filepath.Join(p.project, "pool-worker.yaml")
	b, err := os.ReadFile(worker)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(worker, []byte(strings.Replace(string(b), "workers: 2", "workers: 1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.run("jobs", "pool", "apply", "-y", "-p", p.name, "pool-worker.yaml", "--env", env)
	p.run("jobs", "launch", "-y", "-d", "-p", p.name, "--num-jobs", "2", "pool-job.yaml", "--env", env)
	jobs := p.poolJobs()
	runs := filepath.Join(p.logs, "runs.log")
	h.waitLines(jobs[0].ID, runs, 1)
	h.killController()
	// The next command starts a new controller, which re-attaches.
	if j := p.poolJobs()[1]; j.Status != api.StatusPending {
		t.Errorf("the second job is %s after the restart, want PENDING", j.Status)
	}
	p.waitPool("the worker re-attached, busy", func(ps api.Pool) bool { return ps.Busy == 1 })
	p.release(0)
	p.release(1)
	for _, j := range jobs {
		if e := h.waitEnd(j.ID); e.Status != api.StatusSucceeded || e.Tasks[0].Attempt != 1 || e.Recoveries != 0 {
			t.Errorf("job %d: %s, attempt %d, %d recoveries; want SUCCEEDED on its first attempt", j.ID, e.Status, e.Tasks[0].Attempt, e.Recoveries)
		}
	}
	if lines := readLines(runs); len(lines) != 4 {
		t.Errorf("runs.log, want each job started and ended once:\n%s", strings.Join(lines, "\n"))
	}
	if n := len(readLines(filepath.Join(p.logs, "setups.log"))); n != 1 {
		t.Errorf("setup ran %d times for one worker, want 1", n)
	}
	p.run("jobs", "pool", "down", "-y", p.name)
}

// TestPoolWithAFailingSetup: a worker whose setup fails is replaced; after
// three failures the pool is FAILED with the setup's exit code, its
// waiting jobs end FAILED_PRECHECKS naming it, and its setup log is there.
func TestPoolWithAFailingSetup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, targets()[0])
	fail := filepath.Join(h.work, "go")
	h.mustRun("jobs", "pool", "apply", "-y", "-p", "broken", "--env", "GO="+fail, "testdata/pool-bad-setup.yaml")
	r := h.mustRun("jobs", "launch", "-y", "-d", "-p", "broken", "testdata/hello.yaml")
	id := jobID(t, r)
	// The job waits for the pool; now its setup may fail.
	if err := os.WriteFile(fail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j := h.waitEnd(id)
	if j.Status != api.StatusFailedPrechecks || !strings.Contains(j.FailureReason, "pool broken FAILED") ||
		!strings.Contains(j.FailureReason, "setup failed with exit code 3 (3 tries)") {
		t.Errorf("job %d: %s (%s), want FAILED_PRECHECKS naming the pool and the exit code", id, j.Status, j.FailureReason)
	}
	st := h.mustRun("jobs", "pool", "status", "broken")
	containsInOrder(t, "pool status", st.stdout, "broken", "FAILED", "setup failed with exit code 3 (3 tries)")
	var res api.PoolsResponse
	if err := json.Unmarshal([]byte(h.mustRun("jobs", "pool", "status", "broken", "-o", "json").stdout), &res); err != nil {
		t.Fatal(err)
	}
	logs := h.mustRun("jobs", "pool", "logs", "broken")
	if !strings.Contains(logs.stdout, "missing dependency") {
		t.Errorf("pool logs:\n%s", logs)
	}
	if r := h.run("jobs", "launch", "-y", "-p", "broken", "testdata/hello.yaml"); r.code == 0 || !strings.Contains(r.stderr, "pool broken FAILED") {
		t.Errorf("a job for a FAILED pool:\n%s", r)
	}
}
