// Command skypilot is the Nomad task-driver plugin "skypilot"
// (driver/taskdriver): install it as <plugin_dir>/skypilot on every
// client. Started by Nomad it serves the plugin; started by the plugin as
// `skypilot runner --phase P` it is the task runner (package driver).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/plugins"
	"github.com/hashicorp/nomad/plugins/base"
	"golang.org/x/sys/unix"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/nomadpeers"
	"github.com/skynomad/skynomad/driver/taskdriver"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(runner(os.Args[2:]))
	}
	if os.Getenv(base.Handshake.MagicCookieKey) == "" {
		fmt.Fprintln(os.Stderr, "skypilot is a Nomad task-driver plugin: put it in the client's plugin_dir; Nomad starts it")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "skypilot:", err)
		os.Exit(1)
	}
	exitWithParent()
	plugins.Serve(func(log hclog.Logger) interface{} { return taskdriver.New(log, self) })
}

// runner runs one phase. Its output goes to Nomad's log FIFOs: if the log
// collector is gone for a while (a client restart), output is dropped
// rather than the task blocked or killed by SIGPIPE.
func runner(args []string) int {
	signal.Ignore(syscall.SIGPIPE)
	return driver.Main(context.Background(), args, os.Environ(),
		lossy{os.Stdout}, lossy{os.Stderr}, nomadpeers.FromEnv)
}

type lossy struct{ w io.Writer }

func (l lossy) Write(b []byte) (int, error) {
	_, _ = l.w.Write(b)
	return len(b), nil
}

// exitWithParent ends the plugin the moment the Nomad client that started
// it is gone (a kill -9 leaves plugins behind): the client, started again,
// starts a new one and re-attaches the tasks, which run in sessions of
// their own. At once, not at the next poll: a client back within the poll
// re-attached to the dying plugin and lost its tasks ("plugin is shut
// down").
func exitWithParent() {
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		go func() { // no way to know at once: look every 100 ms
			for range time.Tick(100 * time.Millisecond) {
				if os.Getppid() != parent {
					os.Exit(0)
				}
			}
		}()
	}
	if os.Getppid() != parent {
		os.Exit(0) // gone before the signal was asked for
	}
}
