// Package hostclean ends what a test left on this host: processes that
// name a directory or carry an environment variable, and the mounts Nomad
// made under a directory (task secrets, when run as root).
package hostclean

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/internal/mountinfo"
)

// Dir kills every process that names dir, unmounts what is mounted under
// it and removes it: what a VM's termination does to what ran on it.
func Dir(dir string) error {
	Sweep(func(p Proc) bool { return p.Names(dir) })
	for _, mp := range MountsUnder(dir) {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	return os.RemoveAll(dir)
}

// Sweep kills, until none is left, every process but this one that match
// selects, and returns how many it killed.
func Sweep(match func(Proc) bool) int {
	killed := map[int]bool{}
	for range 20 {
		pids := Processes(match)
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

// Proc is what /proc tells of a process; a zombie has none of it.
type Proc struct {
	cwd              string
	cmdline, environ []byte // NUL-separated
}

// Names reports whether the process's command line, environment or
// working directory names path.
func (p Proc) Names(path string) bool {
	return p.cwd == path || strings.HasPrefix(p.cwd, path+"/") ||
		bytes.Contains(p.cmdline, []byte(path)) || bytes.Contains(p.environ, []byte(path))
}

// HasEnv reports whether the process's environment holds kv (NAME=VALUE).
func (p Proc) HasEnv(kv string) bool {
	for _, v := range bytes.Split(p.environ, []byte{0}) {
		if string(v) == kv {
			return true
		}
	}
	return false
}

// Processes lists the processes but this one that match selects.
func Processes(match func(Proc) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		var p Proc
		p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
		p.cmdline, _ = os.ReadFile(filepath.Join(dir, "cmdline"))
		p.environ, _ = os.ReadFile(filepath.Join(dir, "environ"))
		if match(p) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// MountsUnder lists the mount points under dir, deepest first.
func MountsUnder(dir string) []string {
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
		mp := mountinfo.Unescape(fields[4])
		if strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	return mps
}
