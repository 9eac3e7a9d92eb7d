package local

import (
	"context"
	"path/filepath"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// killPoll is how often killAll looks for survivors.
const killPoll = 20 * time.Millisecond

// signalProcess signals a recorded runner if it is still that process.
func signalProcess(p runnerPID, sig syscall.Signal) error {
	if !proc.Alive(p.pid, p.ticks) {
		return nil
	}
	return syscall.Kill(p.pid, sig)
}

// attemptProcs lists the live processes of an attempt: every process
// carrying the attempt's marker variable, and every process in a recorded
// runner or user process group that started after the attempt's first
// runner (a process that cleared its environment stays in its group; one
// that left its group keeps its environment).
func attemptProcs(a *attempt) []int {
	groups := map[int]bool{}
	var since uint64
	for rank := range a.nodes {
		node := a.nodeDir(rank)
		if p, ok := readRunnerPID(node); ok && lockHeld(filepath.Join(node, lockFile)) {
			groups[p.pid] = true // the runner leads its own session and group
			if since == 0 || p.ticks < since {
				since = p.ticks
			}
		}
		if gs, err := driver.ReadGroups(filepath.Join(node, pgidFile)); err == nil {
			for _, g := range gs {
				groups[g] = true
			}
		}
	}
	all, _ := proc.List()
	self := syscall.Getpid()
	marker := a.marker()
	var out []int
	for _, p := range all {
		if p.Zombie() || p.PID == self {
			continue
		}
		if (since > 0 && groups[p.PGID] && p.StartTicks >= since) || proc.HasEnv(p.PID, marker) {
			out = append(out, p.PID)
		}
	}
	return out
}

// killAll sends SIGKILL to every process of the attempt until none is
// left or ctx ends.
func (e *Engine) killAll(ctx context.Context, a *attempt) error {
	for {
		pids := attemptProcs(a)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(killPoll):
		}
	}
}
