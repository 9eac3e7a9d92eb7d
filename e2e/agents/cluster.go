package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/driver"
)

// stopGrace is how long an agent gets to exit after SIGTERM.
const stopGrace = 10 * time.Second

// cluster is the agents of one run, all in one temp dir.
type cluster struct {
	want    wanted
	dir     string
	logf    func(string, ...any)
	guard   *exec.Cmd
	toGuard io.WriteCloser // closing it tells the guard to clean up

	agents     []*agent
	nomadAddr  string // http://127.0.0.1:port of the server
	consulAddr string // 127.0.0.1:port
	version    string // of the Nomad server
}

// newCluster makes the temp dir and starts its guard.
func newCluster(want wanted, logf func(string, ...any)) (*cluster, error) {
	dir, err := os.MkdirTemp("", "skynomad-agents-")
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	c := &cluster{want: want, dir: dir, logf: logf}
	if c.guard, c.toGuard, err = startGuard(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the guard: %w", err)
	}
	return c, nil
}

// start writes the configs, starts the agents and waits until they serve.
func (c *cluster) start(ctx context.Context) error {
	ports, err := freePorts(12)
	if err != nil {
		return err
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	if c.want.consul != "" {
		http, lan, server := next(), next(), next()
		c.consulAddr = "127.0.0.1:" + strconv.Itoa(http)
		cfg := filepath.Join(c.dir, "consul.hcl")
		if err := os.WriteFile(cfg, []byte(consulConfig(http, lan, server)), 0o644); err != nil {
			return err
		}
		if err := c.startAgent("consul", c.want.consul, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-config-file", cfg); err != nil {
			return err
		}
	}
	if c.want.nomad != "" {
		if err := os.Mkdir(c.pluginDir(), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(c.want.plugin, filepath.Join(c.pluginDir(), driver.PluginName)); err != nil {
			return err
		}
		server := nomadPorts{next(), next(), next()}
		c.nomadAddr = "http://127.0.0.1:" + strconv.Itoa(server.http)
		configs := map[string]string{"nomad-server": nomadServerConfig(c.dir, server, c.consulAddr)}
		for i := 1; i <= 2; i++ {
			name := fmt.Sprintf("nomad-client-%d", i)
			configs[name] = nomadClientConfig(c.dir, name, nomadPorts{next(), next(), next()}, server.rpc, c.consulAddr, c.pluginDir(), c.want.user)
		}
		for _, name := range []string{"nomad-server", "nomad-client-1", "nomad-client-2"} {
			cfg := filepath.Join(c.dir, name+".hcl")
			if err := os.WriteFile(cfg, []byte(configs[name]), 0o644); err != nil {
				return err
			}
			if err := c.startAgent(name, c.want.nomad, "agent", "-config", cfg); err != nil {
				return err
			}
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, a := range c.agents {
		go func() {
			select {
			case <-a.exited:
				cancel(fmt.Errorf("%s exited: %v", a.name, a.err))
			case <-ctx.Done():
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	if c.nomadAddr != "" {
		wg.Go(func() { c.version, errs[0] = waitNomad(ctx, c.nomadAddr, 2) })
	}
	if c.consulAddr != "" {
		wg.Go(func() { errs[1] = waitConsul(ctx, c.consulAddr) })
	}
	wg.Wait()
	// From now on the guard also kills what points at the agents.
	for _, kv := range c.pointers() {
		fmt.Fprintln(c.toGuard, "env", kv)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return errors.Join(errs...)
}

// commandStarted tells the guard that the command runs in process group
// pgid (0: it has ended), to kill if this process dies meanwhile.
func (c *cluster) commandStarted(pgid int) {
	if pgid == 0 {
		fmt.Fprintln(c.toGuard, "command done")
		return
	}
	fmt.Fprintln(c.toGuard, "command", pgid)
}

// pluginDir is the clients' plugin_dir: the task-driver plugin alone.
func (c *cluster) pluginDir() string { return filepath.Join(c.dir, "plugins") }

// describe says what runs where.
func (c *cluster) describe() string {
	var parts []string
	if c.nomadAddr != "" {
		parts = append(parts, fmt.Sprintf("Nomad %s (server + 2 clients with the skypilot driver) at %s", c.version, c.nomadAddr))
	}
	if c.consulAddr != "" {
		parts = append(parts, "Consul at "+c.consulAddr)
	}
	return strings.Join(parts, ", ")
}

// environ is env pointed at the cluster. The variables of an agent it
// started go (NOMAD_NAMESPACE, NOMAD_TOKEN, ... describe another cluster).
func (c *cluster) environ(env []string) []string {
	var out []string
	for _, kv := range env {
		if (c.nomadAddr != "" && strings.HasPrefix(kv, "NOMAD_")) || (c.consulAddr != "" && strings.HasPrefix(kv, "CONSUL_")) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, c.pointers()...)
}

// pointers are the variables that point at the agents.
func (c *cluster) pointers() []string {
	var kvs []string
	if c.nomadAddr != "" {
		kvs = append(kvs, "NOMAD_ADDR="+c.nomadAddr, EnvPluginDir+"="+c.pluginDir())
	}
	if c.consulAddr != "" {
		kvs = append(kvs, "CONSUL_HTTP_ADDR="+c.consulAddr)
	}
	return kvs
}

// printLogs prints the last lines of every agent's log.
func (c *cluster) printLogs(w io.Writer) {
	for _, a := range c.agents {
		b, err := os.ReadFile(a.log)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "agents: last lines of %s:\n%s\n", a.log, lastLines(string(b), 30))
	}
}

// close stops the agents, then lets the guard kill what is left and
// remove the temp dir (unless SKYNOMAD_KEEP_AGENTS=1).
func (c *cluster) close() {
	start := time.Now()
	var wg sync.WaitGroup
	for _, a := range c.agents {
		wg.Go(a.stop)
	}
	wg.Wait()
	c.toGuard.Close()
	_ = c.guard.Wait()
	c.logf("agents stopped in %.1f s", time.Since(start).Seconds())
	if os.Getenv(envKeep) == "1" {
		c.logf("kept %s (%s=1)", c.dir, envKeep)
	}
}

// agent is one running agent process.
type agent struct {
	name, log string
	cmd       *exec.Cmd
	exited    chan struct{}
	err       error // once exited
}

// startAgent starts bin in a process group of its own, out of reach of
// the terminal's Ctrl-C (the tests' cleanups still need it), killed by
// the kernel if this process dies.
func (c *cluster) startAgent(name, bin string, args ...string) error {
	a := &agent{name: name, log: filepath.Join(c.dir, name+".log"), exited: make(chan struct{})}
	f, err := os.Create(a.log)
	if err != nil {
		return err
	}
	defer f.Close()
	a.cmd = exec.Command(bin, args...)
	a.cmd.Dir = c.dir
	a.cmd.Stdout, a.cmd.Stderr = f, f
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c.agents = append(c.agents, a)
	go func() {
		a.err = a.cmd.Wait()
		close(a.exited)
	}()
	return nil
}

// stop sends SIGTERM to the agent's group, and SIGKILL after stopGrace.
func (a *agent) stop() {
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.exited
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close() // held until all are picked: no duplicates
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
