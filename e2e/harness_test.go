package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/jobs/api"
)

// skynomad is the binary under test, built once by TestMain.
var skynomad string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skynomad-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	skynomad = filepath.Join(dir, "skynomad")
	// Both binaries, as `make build` leaves them: the local engine runs
	// skynomad-runner from beside skynomad.
	for _, pkg := range []string{"./cmd/skynomad", "./cmd/skynomad-runner"} {
		build := exec.Command("go", "build", "-o", dir+"/", pkg)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// target is where a scenario's jobs run.
type target struct {
	name   string
	engine string // "local" or "nomad"
	// needs says why the target needs NOMAD_ADDR; empty when it does not.
	needs string
	// config replaces the nomad target's config.yaml (its controller places
	// on this host's shape, on any node of the test cluster).
	config string
	// infeasibleGPUs is a --gpus value nothing on this target offers.
	infeasibleGPUs string
	// wait bounds every wait for a job (and every command).
	wait time.Duration
}

func targets() []target {
	nomad := target{name: "nomad", engine: "nomad", infeasibleGPUs: "H100:64", wait: 3 * time.Minute,
		needs: "the Nomad variant needs a Nomad agent (clients with the skypilot driver) to run tasks on; `make test` starts one"}
	return []target{{name: "local", engine: "local", infeasibleGPUs: "H100:8", wait: time.Minute}, nomad}
}

// scenario runs f once per target, each in parallel with its own home.
func scenario(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Helper()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			if tg.needs != "" {
				realagent.Addr(t, "NOMAD_ADDR", tg.needs)
			}
			t.Parallel()
			f(t, newHarness(t, tg))
		})
	}
}

// harness is one user's machine: a home, an environment and the binary.
type harness struct {
	t      testing.TB
	target target
	home   string
	// work holds files that tasks write for the test to read.
	work string
	env  []string
	// ns is the Nomad namespace of the nomad target's jobs.
	ns string
}

func newHarness(t testing.TB, tg target) *harness {
	t.Helper()
	return newHarnessWith(t, tg, harnessOptions{})
}

// harnessOptions add to a user's machine.
type harnessOptions struct {
	// env is added to the environment (and replaces what it names).
	env []string
	// config is added to the configuration file.
	config string
}

// without reports whether kv names none of the variables in env.
func without(kv string, env []string) bool {
	name, _, _ := strings.Cut(kv, "=")
	for _, e := range env {
		if n, _, _ := strings.Cut(e, "="); n == name {
			return false
		}
	}
	return true
}

func newHarnessWith(t testing.TB, tg target, o harnessOptions) *harness {
	t.Helper()
	// A short path: unix socket paths are limited to 108 bytes.
	home, err := os.MkdirTemp("", "sky-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, target: tg, home: home, work: filepath.Join(home, "work")}
	if err := os.Mkdir(h.work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKYNOMAD_") && without(kv, o.env) {
			h.env = append(h.env, kv)
		}
	}
	h.env = append(h.env, o.env...)
	h.env = append(h.env, "SKYNOMAD_HOME="+home)
	if o.config != "" && tg.engine != "nomad" {
		if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte(o.config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if tg.engine == "nomad" {
		// Every controller numbers its jobs from 1 and names their Nomad
		// jobs sky-<id>-<task>: each test gets its own namespace.
		h.ns = nomadNamespace(t, filepath.Base(home))
		h.env = append(h.env, "NOMAD_NAMESPACE="+h.ns)
		// infra local: plan on this host's shape, placed on any node of the
		// cluster (a dev agent has none of skynomad's node classes).
		cfg := fmt.Sprintf("engine: nomad\ninfra: [local]\nnomad:\n  runner_path: %s\n  placement_timeout: 2m\n", skynomad)
		if tg.config != "" {
			cfg = tg.config
		}
		cfg += o.config
		if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		h.mustRun("controller", "--engine", "nomad", "--detach")
	}
	t.Cleanup(h.shutdown)
	return h
}

// shutdown cancels what is left, stops the controller and removes the home.
func (h *harness) shutdown() {
	if pid, ok := h.controllerPID(); ok && alive(pid) {
		h.run("jobs", "pool", "down", "-a", "-y")
		h.run("jobs", "cancel", "-a", "-u", "-y")
		syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, 15*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	}
	if h.t.Failed() {
		if log, err := os.ReadFile(filepath.Join(h.home, "controller.log")); err == nil {
			h.t.Logf("controller.log:\n%s", lastLines(string(log), 60))
		}
	}
	os.RemoveAll(h.home)
}

// result is what one command did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("skynomad %s: exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs skynomad with args, as a user would, with no input, in the
// package directory (testdata/... paths).
func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn(".", args...)
}

// runIn runs skynomad with args in dir.
func (h *harness) runIn(dir string, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.target.wait+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, skynomad, args...)
	cmd.Env = h.env
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		h.t.Fatalf("skynomad %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		h.t.Fatalf("timed out after %s:\n%s", h.target.wait+30*time.Second, r)
	}
	return r
}

// mustRun runs skynomad and fails the test unless it exits 0.
func (h *harness) mustRun(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

var jobIDLine = regexp.MustCompile(`(?m)^Managed Job ID: (\d+)$`)

// launch submits testdata/<file> detached and returns the job id.
func (h *harness) launch(file string, args ...string) int64 {
	h.t.Helper()
	r := h.mustRun(append([]string{"jobs", "launch", "-d", "-y", filepath.Join("testdata", file)}, args...)...)
	return jobID(h.t, r)
}

func jobID(t testing.TB, r result) int64 {
	t.Helper()
	m := jobIDLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no \"Managed Job ID:\" line:\n%s", r)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// queue is `jobs queue -a -u -o json`.
func (h *harness) queue() []api.Job {
	h.t.Helper()
	r := h.mustRun("jobs", "queue", "-a", "-u", "-o", "json")
	var res api.QueueResponse
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		h.t.Fatalf("queue -o json: %v\n%s", err, r)
	}
	return res.Jobs
}

func (h *harness) job(id int64) (api.Job, bool) {
	h.t.Helper()
	for _, j := range h.queue() {
		if j.ID == id {
			return j, true
		}
	}
	return api.Job{}, false
}

// waitJob polls the queue until cond holds for job id.
func (h *harness) waitJob(id int64, what string, cond func(api.Job) bool) api.Job {
	h.t.Helper()
	deadline := time.Now().Add(h.target.wait)
	var last api.Job
	for {
		j, ok := h.job(id)
		if ok && cond(j) {
			return j
		}
		last = j
		if time.Now().After(deadline) {
			h.t.Fatalf("job %d: still not %s after %s; last seen:\n%s", id, what, h.target.wait, dump(last))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// preempt takes the node from under job id's running attempt, as a spot
// reclaim would: `jobs preempt` on the local engine; on Nomad what the
// spot handler does (see nomadPreempt).
func (h *harness) preempt(id int64) {
	h.t.Helper()
	switch h.target.engine {
	case "nomad":
		h.nomadPreempt(id, 0)
	default:
		h.mustRun("jobs", "preempt", strconv.FormatInt(id, 10))
	}
}

// waitEnd waits until the job's status is final.
func (h *harness) waitEnd(id int64) api.Job {
	h.t.Helper()
	return h.waitJob(id, "finished", func(j api.Job) bool { return j.Status.Terminal() })
}

// waitUntil polls until ok holds; it fails the test when job id ends
// first (what it waits for will not come) or after the target's wait.
func (h *harness) waitUntil(id int64, what string, ok func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(h.target.wait)
	for i := 0; !ok(); i++ {
		if i%5 == 4 {
			if j, _ := h.job(id); j.Status.Terminal() && !ok() {
				h.t.Fatalf("job %d ended %s before %s:\n%s", id, j.Status, what, dump(j))
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("still not %s after %s", what, h.target.wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLines waits until job id's task has written at least n lines to path.
func (h *harness) waitLines(id int64, path string, n int) {
	h.t.Helper()
	h.waitUntil(id, fmt.Sprintf("%d line(s) in %s", n, path), func() bool { return len(readLines(path)) >= n })
}

// killController kills the controller with SIGKILL, as a crash would, and
// returns its pid. On the local engine the next command starts a new one;
// on Nomad it is started again here.
func (h *harness) killController() int {
	h.t.Helper()
	pid, ok := h.controllerPID()
	if !ok {
		h.t.Fatal("no controller.pid in the home")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	if !waitGone(pid, 10*time.Second) {
		h.t.Fatalf("controller %d survived SIGKILL", pid)
	}
	if h.target.engine == "nomad" {
		h.mustRun("controller", "--engine", "nomad", "--detach")
	}
	return pid
}

func (h *harness) controllerPID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(h.home, "controller.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// processesWithEnv lists the live processes whose environment holds kv.
func processesWithEnv(kv string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if string(v) == kv && alive(pid) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// readLines returns the file's non-empty lines.
func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// taskStatuses lists a job's task statuses in order.
func taskStatuses(j api.Job) []api.Status {
	var out []api.Status
	for _, t := range j.Tasks {
		out = append(out, t.Status)
	}
	return out
}

// column returns the cell under header in the table row whose first cell
// is first, reading the column boundaries from the header line.
func column(t *testing.T, table, first, header string) string {
	t.Helper()
	lines := strings.Split(table, "\n")
	var hdr string
	for _, l := range lines {
		if strings.HasPrefix(l, "ID ") {
			hdr = l
			break
		}
	}
	start := strings.Index(hdr, header)
	if start < 0 {
		t.Fatalf("no %s column in:\n%s", header, table)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != first || l == hdr {
			continue
		}
		r := []rune(l)
		hr := []rune(hdr)
		s := len([]rune(hdr[:start]))
		if s >= len(r) {
			return ""
		}
		end := len(r)
		// The cell ends where the next header starts.
		for i := s + len([]rune(header)); i < len(hr)-1; i++ {
			if hr[i] == ' ' && hr[i+1] != ' ' {
				end = min(i+1, len(r))
				break
			}
		}
		return strings.TrimSpace(string(r[s:end]))
	}
	t.Fatalf("no row %q in:\n%s", first, table)
	return ""
}
