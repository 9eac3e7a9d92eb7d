package taskdriver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/helper/uuid"
	"github.com/hashicorp/nomad/plugins/base"
	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// These tests drive the plugin as Nomad does: over its gRPC protocol, with
// Nomad's own alloc dirs and log collector reading the task's FIFOs, and
// real processes (see pluginHarness).

// newDriver is the plugin with this test binary as its runner.
func newDriver(t testing.TB) *Driver {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := New(hclog.NewNullLogger(), self)
	t.Cleanup(d.Shutdown)
	return d
}

// harness serves d over the plugin protocol, configured with cfg.
func harness(t testing.TB, d *Driver, cfg PluginConfig) *pluginHarness {
	t.Helper()
	h := newPluginHarness(t, d)
	var raw []byte
	if err := base.MsgPackEncode(&raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := h.SetConfig(&base.Config{PluginConfig: raw}); err != nil {
		t.Fatal(err)
	}
	return h
}

// me is the plugin config that runs tasks as this test's user.
func me(t testing.TB) PluginConfig {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return PluginConfig{User: u.Username, Metadata: MetadataNone, Docker: "docker"}
}

// newTestTask writes setup and run into a fresh task of its own alloc dir and
// returns the task, with cfg as its driver config (files filled in).
func newTestTask(t testing.TB, h *pluginHarness, name string, tc TaskConfig, setup, run string) *drivers.TaskConfig {
	t.Helper()
	return newTestTaskBeside(t, h, nil, name, tc, setup, run)
}

// newTestTaskBeside is newTestTask with the task's alloc dir beside
// other's (on the same node), or of its own if other is nil.
func newTestTaskBeside(t testing.TB, h *pluginHarness, other *drivers.TaskConfig, name string, tc TaskConfig, setup, run string) *drivers.TaskConfig {
	t.Helper()
	task := &drivers.TaskConfig{ID: uuid.Generate(), AllocID: uuid.Generate(), Name: name,
		Resources: &drivers.Resources{NomadResources: nil}}
	if other != nil {
		h.MkAllocDirBeside(task, other)
	} else {
		h.MkAllocDir(task)
	}
	dir := task.TaskDir()
	write := func(file, script string) string {
		if script == "" {
			return ""
		}
		p := filepath.Join(dir.LocalDir, file)
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return "local/" + file
	}
	tc.SetupFile, tc.RunFile = write("setup.sh", setup), write("run.sh", run)
	// Nomad interpolates the config before the plugin sees it.
	tc.Workdir = strings.ReplaceAll(tc.Workdir, "${NOMAD_ALLOC_DIR}", dir.SharedAllocDir)
	if tc.Phase == "" {
		tc.Phase = string(driver.PhaseAll)
	}
	if tc.NumNodes == 0 {
		tc.NumNodes = 1
	}
	if tc.TaskName == "" {
		tc.TaskName = name
	}
	if tc.NodeRank == 0 {
		tc.NodeRank = -1
	}
	if err := task.EncodeConcreteDriverConfig(&tc); err != nil {
		t.Fatal(err)
	}
	return task
}

// wait waits for the task's exit.
func wait(t testing.TB, h *pluginHarness, id string) *drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := h.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatalf("task %s did not end", id)
		return nil
	}
}

// logs is what Nomad's log collector wrote for the task's stdout.
func logs(t testing.TB, task *drivers.TaskConfig) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(task.TaskDir().LogDir, task.Name+".stdout.0"))
	return string(b)
}

// waitFor polls cond for up to a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// events collects the plugin's task events.
func events(t testing.TB, h *pluginHarness) func() []*drivers.TaskEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := h.TaskEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *drivers.TaskEvent, 100)
	go func() {
		for ev := range ch {
			got <- ev
		}
	}()
	var seen []*drivers.TaskEvent
	return func() []*drivers.TaskEvent {
		for {
			select {
			case ev := <-got:
				seen = append(seen, ev)
			default:
				return seen
			}
		}
	}
}

func hasEvent(evs []*drivers.TaskEvent, taskID, msg string) *drivers.TaskEvent {
	for _, ev := range evs {
		if ev.TaskID == taskID && strings.Contains(ev.Message, msg) {
			return ev
		}
	}
	return nil
}

func TestSetupThenRunWithPrefixesAndVariables(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	evs := events(t, h)
	task := newTestTask(t, h, "hello", TaskConfig{NumNodes: 2, NodeRank: 1, NodeIPs: []string{"10.0.0.1", "10.0.0.2"}},
		`echo "setup rank $SKYPILOT_SETUP_NODE_RANK"`,
		`echo "run rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES at $(echo $SKYPILOT_NODE_IPS)"; pwd`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("exit %+v, want 0", r)
	}
	waitFor(t, "the run's output", func() bool { return strings.Contains(logs(t, task), task.TaskDir().Dir) })
	out := logs(t, task)
	for _, want := range []string{"(setup pid=", ") setup rank 1", "(worker1, rank=1, pid=", ") run rank 1 of 2 at 10.0.0.1 10.0.0.2", task.TaskDir().Dir} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	waitFor(t, "the end event", func() bool { return hasEvent(evs(), task.ID, "SkyPilot run succeeded") != nil })
	if hasEvent(evs(), task.ID, "SkyPilot setup and run started") == nil {
		t.Errorf("no start event among %v", evs())
	}
}

func TestFailedSetupIsNamedInTheEvent(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	evs := events(t, h)
	task := newTestTask(t, h, "t", TaskConfig{}, "echo broken; exit 3", "echo never")
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 3 {
		t.Fatalf("exit %+v, want 3", r)
	}
	var ev *drivers.TaskEvent
	waitFor(t, "the end event", func() bool { ev = hasEvent(evs(), task.ID, "SkyPilot setup failed with exit code 3"); return ev != nil })
	if ev.Annotations["phase"] != "setup" || ev.Annotations["exit_code"] != "3" {
		t.Errorf("annotations %v, want phase setup, exit_code 3", ev.Annotations)
	}
	if strings.Contains(logs(t, task), "never") {
		t.Error("run ran after a failed setup")
	}
}

func TestStopTaskGivesTheGraceThenKills(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	evs := events(t, h)
	// The task ignores SIGTERM in a child; the runner's grace ends it.
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run", Grace: "1s"}, "",
		`trap 'echo got TERM' TERM; bash -c 'trap "" TERM; sleep 600' & echo started; wait; wait`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to start", func() bool { return strings.Contains(logs(t, task), "started") })
	st, err := h.InspectTask(task.ID)
	if err != nil || st.State != drivers.TaskStateRunning {
		t.Fatalf("inspect: %+v, %v; want running", st, err)
	}
	pgids, _ := driver.ReadGroups(filepath.Join(task.TaskDir().LocalDir, ".skypilot", "pgids"))
	if err := h.StopTask(task.ID, 30*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	r := wait(t, h, task.ID)
	if r.ExitCode != driver.TerminatedExitCode {
		t.Errorf("exit %+v, want %d", r, driver.TerminatedExitCode)
	}
	for _, g := range pgids {
		if proc.GroupAlive(g) {
			t.Errorf("process group %d outlived the stop", g)
		}
	}
	if len(pgids) == 0 {
		t.Error("the runner recorded no process group")
	}
	waitFor(t, "the end event", func() bool { return hasEvent(evs(), task.ID, "SkyPilot run terminated") != nil })
	if err := h.DestroyTask(task.ID, false); err != nil {
		t.Errorf("destroy: %v", err)
	}
	if _, err := h.InspectTask(task.ID); err == nil {
		t.Error("the task is still known after DestroyTask")
	}
}

func TestSignalTaskReachesTheUsersProcesses(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "",
		`trap 'echo got USR1; exit 7' USR1; echo ready; while true; do sleep 0.1; done`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to start", func() bool { return strings.Contains(logs(t, task), "ready") })
	if err := h.SignalTask(task.ID, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 7 {
		t.Errorf("exit %+v, want 7", r)
	}
	waitFor(t, "the trap's line in the log", func() bool { return strings.Contains(logs(t, task), "got USR1") })
}

// TestRecoverTaskReattaches: a second plugin process (as after a client
// restart) takes the first one's handle and finds the same runner, which
// goes on and ends once.
func TestRecoverTaskReattaches(t *testing.T) {
	d1 := newDriver(t)
	h1 := harness(t, d1, me(t))
	gate := filepath.Join(t.TempDir(), "go")
	count := filepath.Join(t.TempDir(), "runs")
	task := newTestTask(t, h1, "t", TaskConfig{Phase: "run"}, "",
		fmt.Sprintf(`echo run >> %s; echo "pid $$"; while [ ! -e %s ]; do sleep 0.1; done; echo after; exit 4`, count, gate))
	handle, _, err := h1.StartTask(task)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to start", func() bool { return strings.Contains(logs(t, task), "pid ") })
	var state TaskState
	if err := handle.GetDriverState(&state); err != nil {
		t.Fatal(err)
	}

	// The new plugin process knows only what Nomad stored.
	d2 := newDriver(t)
	h2 := harness(t, d2, me(t))
	stored := handle.Copy()
	stored.Config = task
	if err := h2.RecoverTask(stored); err != nil {
		t.Fatal(err)
	}
	st, err := h2.InspectTask(task.ID)
	if err != nil || st.State != drivers.TaskStateRunning || st.DriverAttributes["pid"] != fmt.Sprint(state.PID) {
		t.Fatalf("recovered task: %+v, %v; want running pid %d", st, err, state.PID)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h2, task.ID); r.ExitCode != 4 {
		t.Errorf("exit seen by the second plugin %+v, want 4", r)
	}
	if b, _ := os.ReadFile(count); string(b) != "run\n" {
		t.Errorf("the script ran %d times, want once", strings.Count(string(b), "run"))
	}
	waitFor(t, "the log to go on after the recovery", func() bool { return strings.Contains(logs(t, task), "after") })
}

// TestRecoverTaskThatEndedMeanwhile: the runner ended while no plugin
// watched; its result file says how.
func TestRecoverTaskThatEndedMeanwhile(t *testing.T) {
	d1 := newDriver(t)
	h1 := harness(t, d1, me(t))
	task := newTestTask(t, h1, "t", TaskConfig{Phase: "run"}, "", "exit 5")
	handle, _, err := h1.StartTask(task)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, h1, task.ID)
	d2 := newDriver(t)
	h2 := harness(t, d2, me(t))
	stored := handle.Copy()
	stored.Config = task
	if err := h2.RecoverTask(stored); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h2, task.ID); r.ExitCode != 5 || r.Err != nil {
		t.Errorf("exit %+v, want 5", r)
	}
}

// newNobodyDriver is the plugin as root with its default user, nobody,
// whose tasks get an alloc-local HOME; it skips the test unless it runs as
// root.
func newNobodyDriver(t *testing.T) *Driver {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running tasks as another user needs root; this test runs as uid", os.Geteuid())
	}
	// nobody must be able to run the runner: a copy outside the test's
	// private build directory.
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "skypilot-runner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	runner := filepath.Join(dir, "skypilot")
	if err := os.WriteFile(runner, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := New(hclog.NewNullLogger(), runner)
	t.Cleanup(d.Shutdown)
	return d
}

func TestTaskRunsAsTheConfiguredUser(t *testing.T) {
	d := newNobodyDriver(t)
	h := harness(t, d, PluginConfig{Metadata: MetadataNone, Docker: "docker"}) // default: nobody
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "",
		`echo "user $(id -un) home $HOME"; touch "$HOME/ok" && echo home-writable; ps -o pgid= -o sid= -p $$`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 0 {
		t.Fatalf("exit %+v\n%s", r, logs(t, task))
	}
	waitFor(t, "the output", func() bool { return strings.Contains(logs(t, task), "user ") })
	out := logs(t, task)
	home := filepath.Join(task.TaskDir().SharedAllocDir, "home")
	if !strings.Contains(out, "user nobody home "+home) || !strings.Contains(out, "home-writable") {
		t.Errorf("log:\n%s\nwant the task as nobody with HOME %s, writable", out, home)
	}
}

func TestTaskStatsMeasuresTheProcessGroup(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "",
		`head -c 64m /dev/zero | tail -c 1 >/dev/null & while true; do :; done`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	defer h.StopTask(task.ID, time.Second, "SIGKILL")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := h.TaskStats(ctx, task.ID, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// A busy loop keeps about one core when the machine is idle; on a
	// loaded one it gets less, so the stats get a minute to see it at a
	// tenth of a core or more, not a measure of nothing.
	var cpu *drivers.CpuStats
	var mem *drivers.MemoryStats
	for {
		select {
		case u := <-ch:
			cpu, mem = u.ResourceUsage.CpuStats, u.ResourceUsage.MemoryStats
		case <-ctx.Done():
			if cpu == nil {
				t.Fatal("no stats")
			}
			t.Fatalf("the stats never showed the busy loop: last cpu %.1f%% (user %.1f%%), rss %d bytes", cpu.Percent, cpu.UserMode, mem.RSS)
		}
		if cpu.Percent >= 10 && cpu.UserMode > 0 && mem.RSS >= 1<<20 {
			return
		}
	}
}

func TestFingerprintIsHealthyWithTheConfiguredOffering(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, PluginConfig{Metadata: MetadataNone, Cloud: "gcp", Zone: "us-central1-b", InstanceType: "n2-standard-8", Capacity: "spot", Docker: "docker"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := h.Fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fp := <-ch
	if fp.Health != drivers.HealthStateHealthy {
		t.Fatalf("health %s (%s)", fp.Health, fp.HealthDescription)
	}
	want := map[string]string{"driver.skypilot": "true", "driver.skypilot.cloud": "gcp", "driver.skypilot.region": "us-central1",
		"driver.skypilot.zone": "us-central1-b", "driver.skypilot.instance_type": "n2-standard-8", "driver.skypilot.spot": "true"}
	for k, v := range want {
		if got, ok := fp.Attributes[k]; !ok || got.GoString() != v {
			t.Errorf("attribute %s = %v, want %s", k, got, v)
		}
	}
}

func TestImageTaskWithoutDockerIsAClearError(t *testing.T) {
	d := newDriver(t)
	cfg := me(t)
	cfg.Docker = filepath.Join(t.TempDir(), "no-docker-here")
	h := harness(t, d, cfg)
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run", Image: "docker:ubuntu:22.04"}, "", "true")
	_, _, err := h.StartTask(task)
	if err == nil || !strings.Contains(err.Error(), `runs in image "ubuntu:22.04", but Docker is not available on node`) {
		t.Errorf("StartTask = %v, want a clear error naming the image and Docker", err)
	}
}

// TestImageTaskGetsPrefixesAndVariables runs a task in a Docker image,
// through the same runner: the same prefixes and SKYPILOT_* variables as
// on the host. It needs a Docker daemon, which CI machines lack: without
// one it skips and says so.
func TestImageTaskGetsPrefixesAndVariables(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon on this machine (%v: %s): the image task cannot run here", err, strings.TrimSpace(string(out)))
	}
	d := newDriver(t)
	h := harness(t, d, me(t))
	task := newTestTask(t, h, "box", TaskConfig{Image: "docker:ubuntu:22.04", NumNodes: 2, NodeRank: 1, NodeIPs: []string{"10.0.0.1", "10.0.0.2"}},
		`echo "setup rank $SKYPILOT_SETUP_NODE_RANK"`,
		`echo "run rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES in $(. /etc/os-release; echo $ID)"`)
	if _, _, err := h.StartTask(task); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("exit %+v, want 0:\n%s", r, logs(t, task))
	}
	waitFor(t, "the run's output", func() bool { return strings.Contains(logs(t, task), "run rank") })
	out := logs(t, task)
	for _, want := range []string{"(setup pid=", ") setup rank 1", "(worker1, rank=1, pid=", ") run rank 1 of 2 in ubuntu"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestTaskRunsWhereItsCgroupCannotBeUsed: on a host that looks like
// cgroup v2 but will not start the runner in the task's cgroup (here a
// plain directory), the task runs without one rather than not at all.
func TestTaskRunsWhereItsCgroupCannotBeUsed(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := cgroupRoot
	cgroupRoot = root
	t.Cleanup(func() { cgroupRoot = saved })
	d := newDriver(t)
	h := harness(t, d, me(t))
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "", "echo ran")
	handle, _, err := h.StartTask(task)
	if err != nil {
		t.Fatal(err)
	}
	var state TaskState
	if err := handle.GetDriverState(&state); err != nil {
		t.Fatal(err)
	}
	if state.Cgroup != "" {
		t.Errorf("the task keeps cgroup %s it could not start in", state.Cgroup)
	}
	if r := wait(t, h, task.ID); r.ExitCode != 0 {
		t.Errorf("exit %+v, want 0", r)
	}
	if _, err := os.Stat(filepath.Join(root, cgroupSlice, task.AllocID+".t.scope")); !os.IsNotExist(err) {
		t.Errorf("the unusable cgroup directory is left: %v", err)
	}
}

// TestWorkdirOutsideTheAllocationMustExist: the plugin creates (and, for
// another user, hands over) only the allocation's directories.
func TestWorkdirOutsideTheAllocationMustExist(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	missing := filepath.Join(t.TempDir(), "not", "there")
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run", Workdir: missing}, "", "pwd")
	if _, _, err := h.StartTask(task); err == nil || !strings.Contains(err.Error(), "not a directory of the allocation, and not an existing directory") {
		t.Errorf("StartTask = %v, want the workdir refused", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the plugin created %s outside the allocation", missing)
	}
}

// TestTaskUserMustBeAllowed: a jobspec's `user` cannot pick root (or
// anyone) unless the plugin config allows it.
func TestTaskUserMustBeAllowed(t *testing.T) {
	d := newDriver(t)
	cfg := me(t)
	cfg.User = "nobody"
	h := harness(t, d, cfg)
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "", "id -un")
	task.User = "root"
	if _, _, err := h.StartTask(task); err == nil || !strings.Contains(err.Error(), `task user "root" is not allowed on this node`) {
		t.Errorf("StartTask as root = %v, want a refusal", err)
	}
	if _, err := taskUser("nobody", "root", "root"); err != nil {
		t.Errorf("root listed in allowed_users: %v", err)
	}
}

// TestKilledRunnerLeavesNothing: with SIGKILL as the kill signal the
// runner cannot end the user's processes itself; the plugin does.
func TestKilledRunnerLeavesNothing(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	task := newTestTask(t, h, "t", TaskConfig{Phase: "run"}, "",
		`sleep 600 & echo started; while true; do sleep 0.1; done`)
	handle, _, err := h.StartTask(task)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to start", func() bool { return strings.Contains(logs(t, task), "started") })
	var state TaskState
	if err := handle.GetDriverState(&state); err != nil {
		t.Fatal(err)
	}
	session := func() []int {
		procs, _ := proc.List()
		var pids []int
		for _, p := range procs {
			if p.SID == state.PID && !p.Zombie() {
				pids = append(pids, p.PID)
			}
		}
		return pids
	}
	if len(session()) < 3 {
		t.Fatalf("the task's session has %v, want the runner, bash and sleep", session())
	}
	if err := h.StopTask(task.ID, 5*time.Second, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	wait(t, h, task.ID)
	if left := session(); len(left) > 0 {
		t.Errorf("processes of the task outlived its runner: %v", left)
	}
}
