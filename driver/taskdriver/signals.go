package taskdriver

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// signalByName reads "SIGTERM", "term" or "15".
func signalByName(s string) (syscall.Signal, error) {
	in := strings.TrimSpace(s)
	if n, err := strconv.Atoi(in); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: not a signal number", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(in)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: not a signal name such as SIGTERM or SIGUSR1", s)
}
