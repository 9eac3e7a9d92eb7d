package taskdriver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// taskHandleVersion versions TaskState as Nomad stores it.
const taskHandleVersion = 1

// TaskState is what Nomad keeps for the plugin across client restarts
// (TaskHandle.DriverState): enough to find the same runner again and to
// learn how it ended.
type TaskState struct {
	PID        int
	StartTicks uint64
	StartedAt  time.Time
	Phase      string
	User       string
	// StateDir holds the runner's result and process-group files.
	StateDir string
	// Cgroup is the task's cgroup v2 directory ("" without one).
	Cgroup string
	// Container names the docker container of an image task ("" on the
	// host), run by the Docker CLI.
	Container string
	Docker    string
	// Mounts are where the runner mounts buckets (bucket/node): swept
	// when the task is destroyed, in case the runner was killed before it
	// unmounted them.
	Mounts []string
	// VolumeLinks are the links to the task's volumes placed on the host
	// (volumes.go), removed when the task is destroyed.
	VolumeLinks []string
}

func (s TaskState) resultFile() string { return s.StateDir + "/result.json" }

// owns reports whether p is a live process of the task: the runner and
// every process of its session, which the user's process groups keep
// after the runner is gone (a process that calls setsid leaves it; only a
// cgroup holds that one).
func (s TaskState) owns(p proc.Info) bool { return p.SID == s.PID && !p.Zombie() }
func (s TaskState) pgidFile() string      { return s.StateDir + "/pgids" }

// task is one running (or ended) task of this plugin process.
type task struct {
	cfg   *drivers.TaskConfig
	state TaskState

	done chan struct{} // closed once exit is set

	mu          sync.Mutex
	exit        *drivers.ExitResult
	completedAt time.Time
}

func newTask(cfg *drivers.TaskConfig, state TaskState) *task {
	return &task{cfg: cfg, state: state, done: make(chan struct{})}
}

// finish records how the runner ended, once. Nothing of the task may
// outlive its runner: a runner that ends normally has ended the user's
// processes itself; one that was killed (SIGKILL as the kill signal, the
// OOM killer) could not, so what is left of them is killed here.
func (t *task) finish(r *drivers.ExitResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exit != nil {
		return
	}
	t.killLeftovers()
	t.exit, t.completedAt = r, time.Now()
	close(t.done)
}

func (t *task) exitResult() (*drivers.ExitResult, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exit.Copy(), t.completedAt
}

func (t *task) running() bool {
	select {
	case <-t.done:
		return false
	default:
		return true
	}
}

// waitChild waits for a runner this plugin process started.
func (t *task) waitChild(cmd *exec.Cmd) {
	err := cmd.Wait()
	r := &drivers.ExitResult{}
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) {
		code, sig := driver.ExitStatus(cmd.ProcessState)
		r.ExitCode, r.Signal = code, int(sig)
	} else {
		r.Err = fmt.Errorf("waiting for the runner: %w", err)
	}
	t.finish(r)
}

// waitAdopted waits for a runner started by an earlier plugin process,
// which is not this process's child: a pidfd tells when it exits, and its
// result file how.
func (t *task) waitAdopted() {
	fd, err := unix.PidfdOpen(t.state.PID, 0)
	if err == nil {
		defer unix.Close(fd)
		// The pid may have been reused between the liveness check and the
		// open: check the start time again, now that the fd pins it.
		if proc.Alive(t.state.PID, t.state.StartTicks) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
					break
				}
			}
		}
	} else {
		for proc.Alive(t.state.PID, t.state.StartTicks) {
			time.Sleep(time.Second)
		}
	}
	t.finish(resultOf(t.state))
}

// resultOf reads how a runner that is gone ended, from its result file.
func resultOf(s TaskState) *drivers.ExitResult {
	res, err := driver.ReadResult(s.resultFile())
	if err != nil {
		return &drivers.ExitResult{ExitCode: driver.TerminatedExitCode,
			Err: fmt.Errorf("the runner (pid %d) ended while no plugin watched it and left no result: %v", s.PID, err)}
	}
	if !res.Final() && driver.Phase(s.Phase) == driver.PhaseAll {
		return &drivers.ExitResult{ExitCode: driver.TerminatedExitCode,
			Err: fmt.Errorf("the runner (pid %d) ended after setup, before run finished", s.PID)}
	}
	return &drivers.ExitResult{ExitCode: exitCodeOf(res)}
}

// exitCodeOf is the runner's exit code for its last result.
func exitCodeOf(r driver.Result) int {
	if r.Terminated {
		return driver.TerminatedExitCode
	}
	return r.ExitCode
}

// signal sends sig to the runner, if it is still the process started.
func (t *task) signal(sig syscall.Signal) error {
	if !t.running() || !proc.Alive(t.state.PID, t.state.StartTicks) {
		return nil
	}
	if err := syscall.Kill(t.state.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to the runner (pid %d): %w", sig, t.state.PID, err)
	}
	return nil
}

// signalTask sends sig to the user's processes: every process group the
// runner recorded.
func (t *task) signalTask(sig syscall.Signal) error {
	var errs []error
	for _, pgid := range groups(t.state) {
		if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leftoverWait bounds how long killLeftovers waits for the killed
// processes to be gone.
const leftoverWait = 5 * time.Second

// killLeftovers SIGKILLs the task's cgroup and the process groups of
// the runner's session (its user's processes keep the session when it is
// gone; a group number alone could have been reused since), and returns
// once none of them is left (or after leftoverWait): SIGKILL is delivered
// asynchronously, and the task's end must not be reported before it.
func (t *task) killLeftovers() {
	if t.state.Cgroup != "" {
		_ = os.WriteFile(t.state.Cgroup+"/cgroup.kill", []byte("1"), 0o644)
	}
	for deadline := time.Now().Add(leftoverWait); ; time.Sleep(10 * time.Millisecond) {
		procs, err := proc.List()
		if err != nil {
			return
		}
		left := map[int]bool{}
		for _, p := range procs {
			if t.state.owns(p) && !left[p.PGID] {
				left[p.PGID] = true
				_ = syscall.Kill(-p.PGID, syscall.SIGKILL)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
	}
}

// kill SIGKILLs everything of the task: its cgroup, the user's process
// groups and the runner's session.
func (t *task) kill() {
	if t.state.Container != "" {
		_ = exec.Command(t.state.Docker, "kill", t.state.Container).Run()
	}
	t.killLeftovers()
	if proc.Alive(t.state.PID, t.state.StartTicks) {
		_ = syscall.Kill(-t.state.PID, syscall.SIGKILL) // its session's group
		_ = syscall.Kill(t.state.PID, syscall.SIGKILL)
	}
}

// status is InspectTask's answer.
func (t *task) status() *drivers.TaskStatus {
	st := &drivers.TaskStatus{
		ID:        t.cfg.ID,
		Name:      t.cfg.Name,
		State:     drivers.TaskStateRunning,
		StartedAt: t.state.StartedAt,
		DriverAttributes: map[string]string{
			"pid":   fmt.Sprint(t.state.PID),
			"user":  t.state.User,
			"phase": t.state.Phase,
		},
	}
	if !t.running() {
		st.State = drivers.TaskStateExited
		st.ExitResult, st.CompletedAt = t.exitResult()
	}
	return st
}

// groups lists the user's process groups the runner recorded.
func groups(s TaskState) []int {
	gs, _ := driver.ReadGroups(s.pgidFile())
	return gs
}
