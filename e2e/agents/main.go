package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/internal/realagent"
)

// Pdeathsig fires when the thread that started the child exits, not the
// process: every child is started from the main goroutine, locked here to
// the main thread, which lives as long as the process.
func init() { runtime.LockOSThread() }

const (
	envGuard = "SKYNOMAD_AGENTS_GUARD" // set for the guard process: the dir it guards
	envKeep  = "SKYNOMAD_KEEP_AGENTS"  // "1" keeps the temp dir and the agents' logs

	startTimeout = 3 * time.Minute  // agents up and ready
	commandGrace = 30 * time.Second // after a forwarded signal, before SIGKILL
)

func main() {
	if dir := os.Getenv(envGuard); dir != "" {
		os.Exit(guard(dir, os.Stdin, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run starts the agents the environment lacks, runs the command against
// them, stops them and returns the command's exit code.
func run(args []string, stderr io.Writer) int {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "agents: "+format+"\n", a...) }
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: agents -- COMMAND [ARG...]")
		return 2
	}

	want, err := plan(logf)
	if err != nil {
		logf("%v", err)
		return 1
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int32 // signals received
	var running atomic.Pointer[exec.Cmd]
	go func() {
		for s := range sigs {
			n := got.Add(1)
			cancel()
			if c := running.Load(); c != nil {
				sig := s.(syscall.Signal)
				if n > 1 {
					sig = syscall.SIGKILL
				}
				_ = syscall.Kill(-c.Process.Pid, sig)
			}
		}
	}()

	env := os.Environ()
	var c *cluster
	if want.nomad != "" || want.consul != "" {
		c, err = newCluster(want, logf)
		if err != nil {
			logf("%v", err)
			return 1
		}
		defer c.close()
		start := time.Now()
		startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
		err = c.start(startCtx)
		cancelStart()
		if err != nil {
			if ctx.Err() != nil {
				logf("interrupted while starting the agents")
				return 130
			}
			logf("starting the agents: %v", err)
			c.printLogs(stderr)
			return 1
		}
		logf("%s ready in %.1f s (logs in %s)", c.describe(), time.Since(start).Seconds(), c.dir)
		env = c.environ(env)
	}

	track := func(cmd *exec.Cmd) {
		running.Store(cmd)
		if c != nil {
			pgid := 0
			if cmd != nil {
				pgid = cmd.Process.Pid
			}
			c.commandStarted(pgid)
		}
	}
	code := runCommand(ctx, args, env, track, logf)
	if got.Load() > 0 && code == 0 {
		code = 130
	}
	if c != nil && code != 0 && got.Load() == 0 {
		c.printLogs(stderr)
	}
	return code
}

// EnvPlugin names the skypilot task-driver plugin the clients load
// (default bin/plugins/skypilot). The command gets EnvPluginDir, a
// directory holding only that plugin, for tests that start clients of
// their own: a Nomad client refuses to start beside a plugin_dir file that
// is not a Nomad plugin, such as the autoscaler's plugins in bin/plugins.
const (
	EnvPlugin    = "SKYNOMAD_PLUGIN"
	EnvPluginDir = "SKYNOMAD_PLUGIN_DIR"
)

// wanted is what to start: a binary's path per agent, "" for none; the
// task-driver plugin and the user the clients' tasks run as.
type wanted struct{ nomad, consul, plugin, user string }

// plan decides which agents to start: those whose address the environment
// lacks and whose binary is on PATH. A missing binary fails the run in CI.
func plan(logf func(string, ...any)) (wanted, error) {
	var w wanted
	for _, a := range []struct {
		bin, env string
		path     *string
	}{{"nomad", "NOMAD_ADDR", &w.nomad}, {"consul", "CONSUL_HTTP_ADDR", &w.consul}} {
		if addr := os.Getenv(a.env); addr != "" {
			logf("%s=%s is set: not starting %s", a.env, addr, a.bin)
			continue
		}
		p, err := exec.LookPath(a.bin)
		switch {
		case err == nil:
			*a.path = p
		case realagent.Required():
			return w, fmt.Errorf("%s not found on PATH and CI=true: run `make tools` (it builds Nomad 1.6.1 and Consul 1.16.3 into ~/.cache/skynomad-tools/bin), or set %s", a.bin, a.env)
		default:
			logf("warning: %s not found on PATH: running without it, its tests skip (`make tools` builds it)", a.bin)
		}
	}
	if w.nomad != "" {
		bin := cmp.Or(os.Getenv(EnvPlugin), filepath.Join("bin", "plugins", driver.PluginName))
		bin, err := filepath.Abs(bin)
		if err != nil {
			return w, err
		}
		if _, err := os.Stat(bin); err != nil {
			return w, fmt.Errorf("the Nomad clients need the skypilot task-driver plugin: %v (`make plugin` builds it into bin/plugins; %s names another file)", err, EnvPlugin)
		}
		u, err := user.Current()
		if err != nil {
			return w, err
		}
		w.plugin, w.user = bin, u.Username
	}
	return w, nil
}

// runCommand runs args in a process group of its own, so that a signal
// reaches all of it (go test and the test binaries), and returns its exit
// code. Once ctx ends (a signal was forwarded) it gets commandGrace to exit.
// track learns of the command once started, and of nil once it has ended.
func runCommand(ctx context.Context, args, env []string, track func(*exec.Cmd), logf func(string, ...any)) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf("%v", err)
		return 127
	}
	track(cmd)
	if ctx.Err() != nil { // a signal came before the command existed
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(commandGrace):
			logf("%s still running %s after the signal: killing it", args[0], commandGrace)
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
	}
	// Whatever of its group is left (a test binary whose go test died).
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	track(nil)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		logf("%s: %v", strings.Join(args, " "), err)
		return 1
	}
}
