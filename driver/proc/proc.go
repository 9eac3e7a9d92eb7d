// Package proc reads the process table from /proc: enough to tell whether a
// recorded process is still the same live process (pid reuse, zombies) and
// to find every process of a process group or carrying a marker variable.
// It is used by the driver and by the local engine; it is Linux-only in
// substance (elsewhere it sees no processes).
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Info is one process as /proc/<pid>/stat shows it.
type Info struct {
	PID   int
	PPID  int
	PGID  int
	SID   int
	State byte
	// StartTicks is the start time in clock ticks after boot; with the pid it
	// names a process uniquely across pid reuse.
	StartTicks uint64
	// UserTicks and SystemTicks are the CPU time it used, in clock ticks.
	UserTicks, SystemTicks uint64
	// RSSPages is its resident set, in pages.
	RSSPages uint64
}

// Zombie reports whether the process has exited and only waits to be reaped.
func (i Info) Zombie() bool { return i.State == 'Z' || i.State == 'X' }

// Stat reads /proc/<pid>/stat.
func Stat(pid int) (Info, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Info{}, err
	}
	return parseStat(b)
}

// parseStat parses the stat line; comm may contain spaces and parentheses,
// so fields are counted from the last ')'.
func parseStat(b []byte) (Info, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Info{}, errors.New("malformed stat line")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return Info{}, fmt.Errorf("malformed stat pid: %w", err)
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); utime, stime, starttime and rss are fields
	// 14, 15, 22 and 24.
	if len(f) < 22 {
		return Info{}, errors.New("short stat line")
	}
	info := Info{PID: pid, State: f[0][0]}
	nums := []*int{&info.PPID, &info.PGID, &info.SID}
	for i, p := range nums {
		if *p, err = strconv.Atoi(f[1+i]); err != nil {
			return Info{}, fmt.Errorf("malformed stat field: %w", err)
		}
	}
	for i, p := range map[int]*uint64{11: &info.UserTicks, 12: &info.SystemTicks, 19: &info.StartTicks, 21: &info.RSSPages} {
		if *p, err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return Info{}, fmt.Errorf("malformed stat field %d: %w", i+3, err)
		}
	}
	return info, nil
}

// Alive reports whether pid is a live (not zombie) process that started at
// startTicks. A zero startTicks matches any start time.
func Alive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	info, err := Stat(pid)
	if err != nil || info.Zombie() {
		return false
	}
	return startTicks == 0 || info.StartTicks == startTicks
}

// List returns every process, zombies included.
func List() ([]Info, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		info, err := Stat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		out = append(out, info)
	}
	return out, nil
}

// GroupAlive reports whether any live (not zombie) process is in the
// process group pgid.
func GroupAlive(pgid int) bool {
	if pgid <= 0 || syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false // not even a zombie: no need to read the table
	}
	all, _ := List()
	for _, p := range all {
		if p.PGID == pgid && !p.Zombie() {
			return true
		}
	}
	return false
}

// HasEnv reports whether the process environment holds exactly entry
// ("NAME=value"). Processes we may not read do not match.
func HasEnv(pid int, entry string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(entry)
	for len(b) > 0 {
		var e []byte
		e, b, _ = bytes.Cut(b, []byte{0})
		if bytes.Equal(e, want) {
			return true
		}
	}
	return false
}
