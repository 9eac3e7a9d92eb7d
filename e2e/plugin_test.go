package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/internal/realagent"
)

// agentsPluginDir names the plugin_dir of the test cluster's clients
// (e2e/agents sets it): the skypilot task-driver plugin alone.
const agentsPluginDir = "SKYNOMAD_PLUGIN_DIR"

// driverPluginDir is a plugin_dir for the Nomad clients a test starts:
// the test cluster's, else one holding bin/plugins/skypilot (`make
// plugin`). Not bin/plugins itself: a Nomad client refuses to start beside
// the autoscaler's plugins there.
func driverPluginDir(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv(agentsPluginDir); dir != "" {
		return dir
	}
	bin, err := filepath.Abs(filepath.Join("..", "bin", "plugins", driver.PluginName))
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		realagent.Unavailable(tb, "no skypilot task-driver plugin for the Nomad clients: `make plugin` builds it ("+err.Error()+")")
		return ""
	}
	dir := tb.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, driver.PluginName)); err != nil {
		tb.Fatal(err)
	}
	return dir
}
