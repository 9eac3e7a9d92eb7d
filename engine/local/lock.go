package local

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// A node's liveness is an flock on node-<rank>/runner.lock, held by the
// runner that runs the node (driver.Serve takes it before it says it
// started, and lets it go once the node's result is written); the kernel
// drops it when the runner exits, however it exits. Unlike a pid, it
// cannot be fooled by pid reuse or by zombies, and there is no moment
// after the start when a live node looks dead.

// lockHeld reports whether a live runner holds the lock at path.
func lockHeld(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}
