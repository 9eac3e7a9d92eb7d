package local

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A runner's liveness is an flock on node-<rank>/runner.lock. The engine
// takes the lock before starting the runner and hands the descriptor over
// (SKYNOMAD_LOCK_FD); the kernel drops it when the runner exits, however it
// exits. Unlike a pid, it cannot be fooled by pid reuse or by zombies, and
// there is no moment after the start when a live runner looks dead.

// takeLock opens and locks a node's lock file; it fails if a runner holds
// it.
func takeLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: a runner is alive", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

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
