package local

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// Runners are served from a pool: each is a `--serve` runner (see
// driver.Serve) that runs the nodes it is given one after another, so a
// short task does not pay for starting a Go process. A runner holds the
// node's lock while it runs the node, exactly as a runner started for that
// node alone would, and is told no more once the engine closes: it then
// finishes the node in hand and exits. A runner stopped with SIGTERM (Stop,
// Preempt) ends its node and exits; the pool starts new ones as needed.

// poolIdle is how long a runner may wait for work before it is let go.
const poolIdle = 30 * time.Second

// runner is one serving runner process.
type runner struct {
	cmd   *exec.Cmd
	pid   int
	ticks uint64 // start ticks: with pid, its identity
	in    io.WriteCloser
	out   *bufio.Reader
	enc   *json.Encoder
	idle  *time.Timer
}

// runnerPool hands out idle runners and starts new ones.
type runnerPool struct {
	command []string
	stderr  string // where runners write their own diagnostics
	maxIdle int

	mu     sync.Mutex
	idle   []*runner
	closed bool
}

func newRunnerPool(command []string, stderr string, maxIdle int) *runnerPool {
	return &runnerPool{command: command, stderr: stderr, maxIdle: maxIdle}
}

// get returns an idle runner, or starts one (fresh).
func (p *runnerPool) get() (r *runner, fresh bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errors.New("local engine: closed")
	}
	for len(p.idle) > 0 {
		r := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if r.idle.Stop() {
			p.mu.Unlock()
			return r, false, nil
		}
		// Its idle timer fired: it is being let go.
	}
	p.mu.Unlock()
	r, err = p.start()
	return r, true, err
}

// put gives a runner back after a node; it is let go after poolIdle, or
// at once when enough runners wait.
func (p *runnerPool) put(r *runner) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.maxIdle {
		r.in.Close()
		return
	}
	r.idle = time.AfterFunc(poolIdle, func() { p.retire(r) })
	p.idle = append(p.idle, r)
}

// retire lets an idle runner go: its input ends and it exits.
func (p *runnerPool) retire(r *runner) {
	p.mu.Lock()
	for i, x := range p.idle {
		if x == r {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	r.in.Close()
}

// close lets every idle runner go; busy ones exit after their node.
func (p *runnerPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, r := range idle {
		r.idle.Stop()
		r.in.Close()
	}
}

// start starts a serving runner in its own session, with only the host
// environment a runner keeps: each node brings its own.
func (p *runnerPool) start() (*runner, error) {
	args := append(append([]string(nil), p.command[1:]...), "--serve")
	cmd := exec.Command(p.command[0], args...)
	cmd.Env = hostEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if errf, err := os.OpenFile(p.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		defer errf.Close()
		cmd.Stderr = errf
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start runner %q: %w", p.command[0], err)
	}
	go cmd.Wait() // reap
	r := &runner{cmd: cmd, pid: cmd.Process.Pid, in: in, out: bufio.NewReader(out), enc: json.NewEncoder(in)}
	if info, err := proc.Stat(r.pid); err == nil {
		r.ticks = info.StartTicks
	}
	return r, nil
}

// assign gives the runner a node and waits until it started it.
func (r *runner) assign(a driver.Assignment) error {
	if err := r.enc.Encode(a); err != nil {
		return fmt.Errorf("runner %d: %w", r.pid, err)
	}
	rep, err := r.reply()
	if err != nil {
		return err
	}
	if !rep.Started {
		return fmt.Errorf("runner %d: %s", r.pid, rep.Error)
	}
	return nil
}

// reply reads the runner's next answer.
func (r *runner) reply() (driver.Reply, error) {
	var rep driver.Reply
	line, err := r.out.ReadBytes('\n')
	if err != nil {
		return rep, fmt.Errorf("runner %d ended: %w", r.pid, err)
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, fmt.Errorf("runner %d: %w", r.pid, err)
	}
	return rep, nil
}

// hostEnv is the part of the engine's environment a runner keeps.
func hostEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "USER", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runnersLog is where serving runners write their own diagnostics.
func runnersLog(dir string) string { return filepath.Join(dir, "runners.log") }
