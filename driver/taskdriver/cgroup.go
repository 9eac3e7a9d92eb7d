package taskdriver

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hashicorp/nomad/plugins/drivers"
)

// cgroupRoot is the cgroup v2 mount; a host whose root has no
// cgroup.controllers file is not on the unified hierarchy.
var cgroupRoot = "/sys/fs/cgroup"

// cgroupSlice holds one cgroup per task, beside Nomad's nomad.slice.
const cgroupSlice = "skypilot.slice"

// cgroupFor creates the task's cgroup on a cgroup v2 host and opens it for
// the runner to start in (CLONE_INTO_CGROUP). ok is false without cgroup v2
// or without the right to create cgroups: the task then runs in its own
// session only.
func (d *Driver) cgroupFor(cfg *drivers.TaskConfig) (path string, fd int, ok bool) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		return "", -1, false
	}
	slice := filepath.Join(cgroupRoot, cgroupSlice)
	if err := os.MkdirAll(slice, 0o755); err != nil {
		d.logger.Warn("cannot create the tasks' cgroup slice; tasks run without a cgroup", "path", slice, "error", err)
		return "", -1, false
	}
	// Account CPU and memory of the tasks below the slice, as far as the
	// root delegates them.
	if b, err := os.ReadFile(filepath.Join(slice, "cgroup.controllers")); err == nil {
		var enable []string
		for _, c := range strings.Fields(string(b)) {
			if c == "cpu" || c == "memory" || c == "pids" {
				enable = append(enable, "+"+c)
			}
		}
		_ = os.WriteFile(filepath.Join(slice, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644)
	}
	path = filepath.Join(slice, cfg.AllocID+"."+cfg.Name+".scope")
	if err := os.Mkdir(path, 0o755); err != nil && !os.IsExist(err) {
		d.logger.Warn("cannot create the task's cgroup; it runs without one", "path", path, "error", err)
		return "", -1, false
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(path)
		return "", -1, false
	}
	return path, fd, true
}
