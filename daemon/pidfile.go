package daemon

import (
	"os"
	"strconv"
	"strings"
)

// writePID records the controller's pid in path (atomically) and returns
// a func that removes it if it still holds our pid.
func writePID(path string) (remove func(), err error) {
	pid := os.Getpid()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return func() {
		if p, ok := ReadPID(path); ok && p == pid {
			os.Remove(path)
		}
	}, nil
}

// ReadPID reads a controller pid file.
func ReadPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}
