package driver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skynomad/skynomad/driver/proc"
)

// TerminatedExitCode is the runner's exit code after SIGTERM/SIGINT.
const TerminatedExitCode = 128 + int(syscall.SIGTERM)

const (
	// groupPoll is how often the runner looks for live user processes
	// while it waits for them to end.
	groupPoll = 50 * time.Millisecond
	// killWait bounds the wait for processes to vanish after SIGKILL.
	killWait = 5 * time.Second
	// drainWait bounds the wait for output of processes that escaped the
	// process group after the phases ended.
	drainWait = 2 * time.Second
	// phaseDrainWait bounds the wait for a phase's output before the next
	// phase starts (a process it left behind may hold the pipes open).
	phaseDrainWait = 500 * time.Millisecond
)

// Runner runs the phases of one node of one attempt.
type Runner struct {
	Config Config
	// Env is the environment the user's scripts inherit; the runner adds
	// the SKYPILOT_* variables of the node.
	Env []string
	// Peers finds the node addresses when Config.NodeIPs is empty; nil
	// means 127.0.0.1 for every node.
	Peers PeerFinder
	// Stdout and Stderr receive the prefixed output of the user's scripts.
	Stdout io.Writer
	Stderr io.Writer
	Clock  func() time.Time
	Logger *slog.Logger
}

// run is the state of one Run call.
type run struct {
	*Runner
	ips []string
	// namespace starts a phase's bash so that it sees the job group's
	// hostnames in /etc/hosts (nil outside a job group).
	namespace []string
	hostsPath string
	groups    []int // user process groups, in start order
	copiers   sync.WaitGroup
	pipes     []*os.File // read ends, closed if output does not drain
	writers   []*PrefixWriter
	stdout    io.Writer
	stderr    io.Writer
}

// Run executes phase (setup, run or all) and returns the runner's exit
// code: the failing phase's code, the run's code, or TerminatedExitCode if
// ctx ended first. Ending ctx terminates the user's processes: SIGTERM to
// their process groups, then SIGKILL after the grace period or at the
// deadline in the notice file.
//
// Processes left in a phase's group after its bash exits keep running
// until the runner ends (so setup may start daemons for run); then they get
// SIGTERM and, after the grace period, SIGKILL.
func (r *Runner) Run(ctx context.Context, phase Phase) int {
	if r.Clock == nil {
		r.Clock = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Stdout == nil {
		r.Stdout = io.Discard
	}
	if r.Stderr == nil {
		r.Stderr = io.Discard
	}
	st := &run{Runner: r}
	// Several goroutines write to the outputs; serialize them.
	out, errOut := &syncWriter{w: r.Stdout}, &syncWriter{w: r.Stderr}
	if sameWriter(r.Stdout, r.Stderr) {
		errOut = out
	}
	st.stdout, st.stderr = out, errOut
	phases := []Phase{phase}
	if phase == PhaseAll {
		phases = []Phase{PhaseSetup, PhaseRun}
	}

	var err error
	st.ips, err = st.nodeIPs(ctx)
	if err != nil {
		res := Result{Phase: phases[0], ExitCode: 1, FinishedAt: r.Clock().UTC()}
		if ctx.Err() != nil {
			res.ExitCode, res.Terminated = TerminatedExitCode, true
		}
		fmt.Fprintf(st.stderr, "skynomad: cannot find the nodes of this task: %v\n", err)
		st.writeResult(res)
		return res.ExitCode
	}

	if failed := st.prepareHosts(ctx, phases[0]); failed != nil {
		st.writeResult(*failed)
		return failed.ExitCode
	}
	defer st.removeHosts()

	mounts, failed := st.fetchFiles(ctx, phases[0])
	if failed != nil {
		st.writeResult(*failed)
		return failed.ExitCode
	}

	code := 0
	for i, ph := range phases {
		var res Result
		if ph == PhaseRun {
			st.waitGate(ctx)
		}
		if ctx.Err() != nil {
			res = Result{Phase: ph, ExitCode: TerminatedExitCode, Terminated: true, FinishedAt: r.Clock().UTC()}
		} else {
			res = st.runPhase(ctx, ph)
		}
		if !res.Skipped || i == len(phases)-1 {
			// A skipped setup says nothing the run's result will not.
			st.writeResult(res)
		}
		code = res.ExitCode
		if res.Terminated {
			code = TerminatedExitCode
		}
		if res.Terminated || res.ExitCode != 0 {
			break
		}
	}
	st.endGroups(r.Clock().Add(r.Config.Grace), nil)
	st.drain()
	st.unmount(mounts)
	return code
}

func (st *run) nodeIPs(ctx context.Context) ([]string, error) {
	n := st.Config.NumNodes
	if len(st.Config.NodeIPs) > 0 {
		return st.Config.NodeIPs, nil
	}
	if st.Peers == nil {
		return localIPs(n), nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.discoveryTimeout())
	defer cancel()
	ips, err := st.Peers.NodeIPs(ctx, n)
	if err == nil && len(ips) != n {
		err = fmt.Errorf("found %d addresses for %d nodes", len(ips), n)
	}
	return ips, err
}

// waitGate waits until the run gate exists (if there is one and a run
// script to gate) or ctx ends.
func (st *run) waitGate(ctx context.Context) {
	if st.Config.RunGate == "" || st.scriptPath(PhaseRun) == "" {
		return
	}
	t := time.NewTicker(groupPoll)
	defer t.Stop()
	for {
		if _, err := os.Stat(st.Config.RunGate); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scriptPath returns the phase's script, or "" if the phase is skipped.
func (st *run) scriptPath(ph Phase) string {
	path := st.Config.RunFile
	if ph == PhaseSetup {
		path = st.Config.SetupFile
	}
	if path == "" {
		return ""
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return ""
	}
	return path
}

// env is the user's environment for phase ph.
func (st *run) env(ph Phase) []string {
	env := append([]string(nil), st.Env...)
	rank := strconv.Itoa(st.Config.NodeRank)
	ips := strings.Join(st.ips, "\n")
	env = setEnv(env, EnvSkyNodeRank, rank)
	env = setEnv(env, EnvSkyNodeIPs, ips)
	env = setEnv(env, EnvSkyNumNodes, strconv.Itoa(st.Config.NumNodes))
	if ph == PhaseSetup {
		env = setEnv(env, EnvSkySetupNodeRank, rank)
		env = setEnv(env, EnvSkySetupNodeIPs, ips)
	}
	if st.Config.ClusterInfo != "" {
		env = setEnv(env, EnvSkyClusterInfo, st.Config.ClusterInfo)
	}
	if st.Config.NoticeFile != "" {
		env = setEnv(env, EnvSkyPreemptionDeadlineFile, st.Config.NoticeFile)
	}
	return env
}

// prefix is the output prefix of phase ph for bash pid.
func (st *run) prefix(ph Phase, pid int) string {
	switch {
	case ph == PhaseSetup:
		return fmt.Sprintf("(setup pid=%d) ", pid)
	case st.Config.NodeRank == 0:
		return fmt.Sprintf("(%s, pid=%d) ", st.Config.TaskName, pid)
	default:
		return fmt.Sprintf("(worker%d, rank=%d, pid=%d) ", st.Config.NodeRank, st.Config.NodeRank, pid)
	}
}

// runPhase runs one phase's script under bash in its own process group.
func (st *run) runPhase(ctx context.Context, ph Phase) Result {
	script := st.scriptPath(ph)
	if script == "" {
		return Result{Phase: ph, Skipped: true, FinishedAt: st.Clock().UTC()}
	}
	if st.Config.PhaseFile != "" {
		if err := writeFileAtomic(st.Config.PhaseFile, []byte(string(ph)+"\n")); err != nil {
			st.Logger.Warn("cannot write phase file", "err", err)
		}
	}
	if wd := st.Config.Workdir; wd != "" {
		// On Nomad the workdir lives in the alloc dir and may not exist yet.
		if err := os.MkdirAll(wd, 0o755); err != nil {
			return st.startFailed(ph, err)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return st.startFailed(ph, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return st.startFailed(ph, err)
	}
	argv := []string{"/bin/bash", script}
	if st.namespace != nil {
		argv = append(append([]string{}, st.namespace...), script)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = st.Config.Workdir
	cmd.Env = st.env(ph)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return st.startFailed(ph, err)
	}
	pid := cmd.Process.Pid
	st.groups = append(st.groups, pid)
	st.writeGroups()
	prefix := st.prefix(ph, pid)
	outDone := st.copy(outR, NewPrefixWriter(st.stdout, prefix))
	errDone := st.copy(errR, NewPrefixWriter(st.stderr, prefix))

	exited := make(chan struct{})
	go func() {
		cmd.Wait() // the status is read from cmd.ProcessState
		close(exited)
	}()
	terminated := false
	select {
	case <-exited:
	case <-ctx.Done():
		terminated = true
		st.endGroups(st.deadline(), exited)
		<-exited
	}
	res := Result{Phase: ph, Terminated: terminated, FinishedAt: st.Clock().UTC()}
	res.ExitCode, res.Signal = exitStatus(cmd.ProcessState)
	// The phase's output is copied before the next phase writes: setup's
	// lines come before run's. A process the phase left behind may hold its
	// pipes open; then its output goes on beside the next phase's.
	waitOutput(phaseDrainWait, outDone, errDone)
	return res
}

// waitOutput waits until each copy is done, or up to limit.
func waitOutput(limit time.Duration, done ...<-chan struct{}) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for _, d := range done {
		select {
		case <-d:
		case <-t.C:
			return
		}
	}
}

func (st *run) startFailed(ph Phase, err error) Result {
	fmt.Fprintf(st.stderr, "skynomad: cannot start the %s phase: %v\n", ph, err)
	return Result{Phase: ph, ExitCode: 127, FinishedAt: st.Clock().UTC()}
}

// deadline is when terminated user processes get SIGKILL: the deadline in
// the notice file if there is one, else now plus the grace period.
func (st *run) deadline() time.Time {
	if st.Config.NoticeFile != "" {
		if t, err := ReadNotice(st.Config.NoticeFile); err == nil {
			return t
		}
	}
	return st.Clock().Add(st.Config.Grace)
}

// endGroups sends SIGTERM to every user process group, waits until they
// are empty (and exited is closed, if given) or the deadline passes, then
// sends SIGKILL to whatever is left.
func (st *run) endGroups(deadline time.Time, exited <-chan struct{}) {
	live := st.liveGroups()
	if len(live) == 0 {
		return
	}
	for _, g := range live {
		syscall.Kill(-g, syscall.SIGTERM)
	}
	done := func() bool {
		if exited != nil {
			select {
			case <-exited:
			default:
				return false
			}
		}
		return len(st.liveGroups()) == 0
	}
	for !done() && st.Clock().Before(deadline) {
		time.Sleep(min(groupPoll, max(deadline.Sub(st.Clock()), time.Millisecond)))
	}
	if done() {
		return
	}
	stop := st.Clock().Add(killWait)
	for live = st.liveGroups(); len(live) > 0 && st.Clock().Before(stop); live = st.liveGroups() {
		for _, g := range live {
			syscall.Kill(-g, syscall.SIGKILL)
		}
		time.Sleep(groupPoll / 5)
	}
}

// liveGroups returns the user process groups that still have a live
// (not zombie) process.
func (st *run) liveGroups() []int {
	var live []int
	for _, g := range st.groups {
		if proc.GroupAlive(g) {
			live = append(live, g)
		}
	}
	return live
}

// copy copies r to w in the background; the channel is closed when r
// ends.
func (st *run) copy(r *os.File, w *PrefixWriter) <-chan struct{} {
	st.pipes = append(st.pipes, r)
	st.writers = append(st.writers, w)
	st.copiers.Add(1)
	done := make(chan struct{})
	go func() {
		defer st.copiers.Done()
		defer close(done)
		io.Copy(w, r)
	}()
	return done
}

// drain waits for the output of the user processes to end, flushes
// partial lines and closes the pipes.
func (st *run) drain() {
	done := make(chan struct{})
	go func() {
		st.copiers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drainWait):
		// A process outside our groups (it called setsid) still holds a
		// pipe; stop reading it.
		for _, p := range st.pipes {
			p.Close()
		}
		<-done
	}
	for _, p := range st.pipes {
		p.Close()
	}
	for _, w := range st.writers {
		w.Flush()
	}
}

func (st *run) writeResult(res Result) {
	if st.Config.ResultFile == "" {
		return
	}
	if err := WriteResult(st.Config.ResultFile, res); err != nil {
		st.Logger.Warn("cannot write result file", "path", st.Config.ResultFile, "err", err)
	}
}

func (st *run) writeGroups() {
	if st.Config.PGIDFile == "" {
		return
	}
	var b strings.Builder
	for _, g := range st.groups {
		fmt.Fprintf(&b, "%d\n", g)
	}
	if err := writeFileAtomic(st.Config.PGIDFile, []byte(b.String())); err != nil {
		st.Logger.Warn("cannot write process group file", "err", err)
	}
}

// exitStatus turns a process state into an exit code (128+signal for a
// signal death) and the signal's name.
func exitStatus(ps *os.ProcessState) (int, string) {
	code, sig := ExitStatus(ps)
	if sig == 0 {
		return code, ""
	}
	return code, unix.SignalName(sig)
}

// ExitStatus is a process's exit code, 128+signal when a signal killed it
// (as bash reports it), and that signal (0 after an exit).
func ExitStatus(ps *os.ProcessState) (int, syscall.Signal) {
	if ps == nil {
		return -1, 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ps.ExitCode(), 0
}

// ReadGroups reads a process group file written by the runner.
func ReadGroups(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		g, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("process group file %s: %w", path, err)
		}
		out = append(out, g)
	}
	return out, nil
}
