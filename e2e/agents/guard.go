package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	if n := sweep(func(p proc) bool { return slices.ContainsFunc(env, p.hasEnv) }); n > 0 {
		fmt.Fprintf(stderr, "agents: killed %d process(es) the tests left running against the agents\n", n)
	}
	if n := sweep(func(p proc) bool { return p.names(dir) }); n > 0 {
		fmt.Fprintf(stderr, "agents: killed %d process(es) left under %s (Nomad's executors and tasks outlive their client)\n", n, dir)
	}
	for _, mp := range mountsUnder(dir) {
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

// sweep kills, until none is left, every process but this one that match
// selects, and returns how many it killed.
func sweep(match func(proc) bool) int {
	killed := map[int]bool{}
	for range 20 {
		pids := processes(match)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return len(killed)
}

// proc is what /proc tells of a process; a zombie has none of it.
type proc struct {
	cwd              string
	cmdline, environ []byte // NUL-separated
}

// names reports whether the process's command line, environment or
// working directory names path.
func (p proc) names(path string) bool {
	return p.cwd == path || strings.HasPrefix(p.cwd, path+"/") ||
		bytes.Contains(p.cmdline, []byte(path)) || bytes.Contains(p.environ, []byte(path))
}

// hasEnv reports whether the process's environment holds kv (NAME=VALUE).
func (p proc) hasEnv(kv string) bool {
	for _, v := range bytes.Split(p.environ, []byte{0}) {
		if string(v) == kv {
			return true
		}
	}
	return false
}

// processes lists the processes but this one that match selects.
func processes(match func(proc) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		var p proc
		p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
		p.cmdline, _ = os.ReadFile(filepath.Join(dir, "cmdline"))
		p.environ, _ = os.ReadFile(filepath.Join(dir, "environ"))
		if match(p) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mps []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	return mps
}

// unescapeMount undoes mountinfo's octal escapes (\040 is a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
