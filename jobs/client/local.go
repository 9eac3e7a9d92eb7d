package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Files of the local controller under its home directory (~/.skynomad).
const (
	SocketFile    = "controller.sock"
	startLockFile = "controller.start.lock"
)

// StartTimeout bounds how long EnsureLocal waits for a controller it
// started, unless ctx ends first.
const StartTimeout = 30 * time.Second

// pollInterval paces the waits of EnsureLocal.
const pollInterval = 50 * time.Millisecond

// SocketPath is the local controller's socket under home.
func SocketPath(home string) string { return filepath.Join(home, SocketFile) }

// EnsureLocal returns a client of the local controller (the unix socket
// under home), starting it first if it does not answer: start should launch
// the controller in the background (e.g. `skynomad controller --detach`,
// logging to <home>/controller.log) and return once it is launched. A lock
// file under home makes concurrent callers start it only once; the others
// wait for it to answer.
func EnsureLocal(ctx context.Context, home string, start func() error) (*Client, error) {
	c, err := New("unix://"+SocketPath(home), "")
	if err != nil {
		return nil, err
	}
	if c.alive(ctx) {
		return c, nil
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("controller home: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	unlock, err := lockWait(ctx, filepath.Join(home, startLockFile))
	if err != nil {
		return nil, fmt.Errorf("starting the local controller: %w", err)
	}
	defer unlock()
	// Someone else may have started it while we waited for the lock.
	if c.alive(ctx) {
		return c, nil
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("starting the local controller: %w", err)
	}
	for {
		if c.alive(ctx) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, &UnreachableError{Addr: c.addr, Err: fmt.Errorf("started, but not answering (see %s)",
				filepath.Join(home, "controller.log"))}
		case <-time.After(pollInterval):
		}
	}
}

// alive reports whether the controller answers its health check.
func (c *Client) alive(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := c.Health(ctx)
	return err == nil
}

// lockWait takes an exclusive flock on path, polling until ctx ends.
func lockWait(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
