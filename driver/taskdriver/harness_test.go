package taskdriver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/nomad/client/allocdir"
	"github.com/hashicorp/nomad/client/logmon"
	"github.com/hashicorp/nomad/plugins/base"
	"github.com/hashicorp/nomad/plugins/drivers"
)

// pluginHarness serves a Driver over the plugin protocol (gRPC through
// go-plugin, as Nomad talks to it) and builds alloc dirs with Nomad's own
// allocdir package, with Nomad's log collector on the task's FIFOs. (The
// SDK's DriverHarness does the same but no longer compiles beside the
// go-plugin version our module resolves.)
type pluginHarness struct {
	drivers.DriverPlugin
	t testing.TB
}

func newPluginHarness(t testing.TB, d *Driver) *pluginHarness {
	t.Helper()
	logger := hclog.NewNullLogger()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		base.PluginTypeDriver: drivers.NewDriverPlugin(d, logger),
		base.PluginTypeBase:   &base.PluginBase{Impl: d},
	})
	t.Cleanup(func() { client.Close() }) // which stops the server too
	raw, err := client.Dispense(base.PluginTypeDriver)
	if err != nil {
		t.Fatal(err)
	}
	return &pluginHarness{DriverPlugin: raw.(drivers.DriverPlugin), t: t}
}

// MkAllocDir builds the task's alloc and task dirs as a Nomad client
// does, sets the task's NOMAD_* directory variables and starts a log
// collector on its stdout and stderr FIFOs.
func (h *pluginHarness) MkAllocDir(task *drivers.TaskConfig) { h.mkAllocDir(task, nil) }

// MkAllocDirBeside is MkAllocDir with the task's alloc dir beside
// other's, as a client keeps every alloc of its node in one directory.
func (h *pluginHarness) MkAllocDirBeside(task, other *drivers.TaskConfig) { h.mkAllocDir(task, other) }

func (h *pluginHarness) mkAllocDir(task, beside *drivers.TaskConfig) {
	t := h.t
	var root string
	if beside != nil {
		root = filepath.Dir(beside.AllocDir)
	} else {
		var err error
		if root, err = os.MkdirTemp("", "skypilot-driver-test-"); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logger := hclog.NewNullLogger()
	ad := allocdir.NewAllocDir(logger, root, task.AllocID)
	if err := ad.Build(); err != nil {
		t.Fatal(err)
	}
	task.AllocDir = ad.AllocDir
	td := ad.NewTaskDir(task.Name)
	if err := td.Build(false, nil); err != nil {
		t.Fatal(err)
	}
	if task.Env == nil {
		task.Env = map[string]string{}
	}
	task.Env["NOMAD_ALLOC_DIR"] = td.SharedAllocDir
	task.Env["NOMAD_TASK_DIR"] = td.LocalDir
	task.Env["NOMAD_SECRETS_DIR"] = td.SecretsDir
	task.Env["NOMAD_ALLOC_ID"] = task.AllocID
	task.Env["PATH"] = os.Getenv("PATH")

	task.StdoutPath = filepath.Join(td.LogDir, "."+task.Name+".stdout.fifo")
	task.StderrPath = filepath.Join(td.LogDir, "."+task.Name+".stderr.fifo")
	lm := logmon.NewLogMon(logger)
	if err := lm.Start(&logmon.LogConfig{
		LogDir: td.LogDir, StdoutLogFile: task.Name + ".stdout", StderrLogFile: task.Name + ".stderr",
		StdoutFifo: task.StdoutPath, StderrFifo: task.StderrPath, MaxFiles: 2, MaxFileSizeMB: 10,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lm.Stop()
		_ = ad.Destroy()
		if beside == nil {
			_ = os.RemoveAll(root)
		}
	})
}
