package main

import (
	"github.com/skynomad/skynomad/internal/hostclean"

	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// startGuard starts this program again as the guard of dir, in a session
// of its own so that it outlives whatever kills this process. It cleans up
// when the returned pipe closes: when this process closes it, or dies.
func startGuard(dir string) (*exec.Cmd, io.WriteCloser, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	r, w, err := os.Pipe() // close-on-exec: only the guard holds the read end
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envGuard+"="+dir)
	cmd.Stdin, cmd.Stderr = r, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, nil, err
	}
	return cmd, w, nil
}

// guard waits for its stdin to close, then kills every process left that
// belongs to the run: the command's process group if it was still
// running, those that name dir (agents, Nomad's executors, tasks) and
// those whose environment points at the agents (what the tests started in
// sessions of their own, such as detached controllers, when a signal cut
// their cleanups short). Then it unmounts what Nomad mounted under dir
// (task secrets, when run as root) and removes dir, unless
// SKYNOMAD_KEEP_AGENTS=1. Its stdin says "command PGID" once the command
// runs, "command done" once it has ended, and "env NAME=VALUE" for each
// variable that points at the agents.
func guard(dir string, stdin io.Reader, stderr io.Writer) int {
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP, syscall.SIGINT)
	command := 0
	var env []string
	lines := bufio.NewScanner(stdin)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "command "); ok {
			command, _ = strconv.Atoi(v) // 0 for "done"
		}
		if v, ok := strings.CutPrefix(lines.Text(), "env "); ok {
			env = append(env, v)
		}
	}
	if command > 0 {
		_ = syscall.Kill(-command, syscall.SIGKILL)
	}
	if n := hostclean.Sweep(func(p hostclean.Proc) bool { return slices.ContainsFunc(env, p.HasEnv) }); n > 0 {
		fmt.Fprintf(stderr, "agents: killed %d process(es) the tests left running against the agents\n", n)
	}
	if n := hostclean.Sweep(func(p hostclean.Proc) bool { return p.Names(dir) }); n > 0 {
		fmt.Fprintf(stderr, "agents: killed %d process(es) left under %s (Nomad's executors and tasks outlive their client)\n", n, dir)
	}
	for _, mp := range hostclean.MountsUnder(dir) {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			fmt.Fprintf(stderr, "agents: unmounting %s: %v\n", mp, err)
		}
	}
	if os.Getenv(envKeep) == "1" {
		return 0
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(stderr, "agents: %v\n", err)
		return 1
	}
	return 0
}
