// Package nodetest holds what the tests of bucket/node share: whether
// rclone and FUSE are here, and what a test checks once a node is done
// with its mounts.
package nodetest

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/internal/mountinfo"
	"github.com/skynomad/skynomad/internal/realagent"
)

// RequireRclone ends tb (see realagent.Unavailable) unless rclone, FUSE
// and fusermount are here.
func RequireRclone(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("rclone"); err != nil {
		realagent.Unavailable(tb, "rclone is not on PATH (apt-get install -y rclone fuse3)")
		return
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		realagent.Unavailable(tb, "no /dev/fuse: rclone mount cannot run here")
		return
	}
	_, err3 := exec.LookPath("fusermount3")
	_, err := exec.LookPath("fusermount")
	if err3 != nil && err != nil {
		realagent.Unavailable(tb, "neither fusermount3 nor fusermount is on PATH (apt-get install -y fuse3)")
	}
}

// MountsUnder lists the mount points at or under dir.
func MountsUnder(tb testing.TB, dir string) []string {
	tb.Helper()
	dir = realDir(tb, dir)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := mountinfo.Unescape(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// MountProcesses lists the processes marked as serving a mount at or
// under dir (SKYNOMAD_MOUNT=<path> in their environment), zombies aside.
func MountProcesses(tb testing.TB, dir string) []int {
	tb.Helper()
	dir = realDir(tb, dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !Alive(pid) {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if p, ok := strings.CutPrefix(kv, "SKYNOMAD_MOUNT="); ok && (p == dir || strings.HasPrefix(p, dir+"/")) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// Alive reports whether pid runs (a zombie does not).
func Alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// AssertClean fails tb if a mount or a mount process is left under dir.
func AssertClean(tb testing.TB, dir string) {
	tb.Helper()
	if m := MountsUnder(tb, dir); len(m) > 0 {
		tb.Errorf("mounts left under %s: %q", dir, m)
	}
	if p := MountProcesses(tb, dir); len(p) > 0 {
		tb.Errorf("rclone processes left for %s: %v", dir, p)
	}
}

// Tree describes what is under dir as the task would see it: "rel" →
// "0644 content" for a file, "rel/" → "0755" for a directory, "rel" →
// "-> target" for a symbolic link.
func Tree(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := "0" + strconv.FormatUint(uint64(info.Mode().Perm()), 8)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel+"/"] = mode
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = mode + " " + string(data)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func realDir(tb testing.TB, dir string) string {
	tb.Helper()
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
