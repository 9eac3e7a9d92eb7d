package taskdriver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/plugins/drivers"
)

// TestVolumesAreLinkedForTasksOnTheHost: a task on the host finds each
// volume at its path, a link shared with another running task of the same
// volume outlives the first task, and nothing else on the host is touched.
func TestVolumesAreLinkedForTasksOnTheHost(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	vol := filepath.Join(root, "nomad", "volumes", "datasets")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(root, "mnt", "data")
	d := New(hclog.NewNullLogger(), "runner")
	cfg := func(id string, m ...*drivers.MountConfig) *drivers.TaskConfig {
		return &drivers.TaskConfig{ID: id, Mounts: m}
	}
	first, err := d.linkVolumes(cfg("a", &drivers.MountConfig{HostPath: vol, TaskPath: dest}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(dest); got != vol {
		t.Fatalf("%s links to %q, want %q", dest, got, vol)
	}
	d.setTask("a", newTask(cfg("a"), TaskState{VolumeLinks: first}))

	// A second task of the same volume shares the link...
	second, err := d.linkVolumes(cfg("b", &drivers.MountConfig{HostPath: vol, TaskPath: dest}))
	if err != nil {
		t.Fatal(err)
	}
	// ...which a different volume may not take while a task holds it.
	other := filepath.Join(root, "csi", "per-alloc", "ckpt")
	if _, err := d.linkVolumes(cfg("c", &drivers.MountConfig{HostPath: other, TaskPath: dest})); err == nil || !strings.Contains(err.Error(), "different volume") {
		t.Errorf("a different volume at a held path: err = %v", err)
	}
	d.unlinkVolumes(second, "b")
	if got, _ := os.Readlink(dest); got != vol {
		t.Errorf("the link went with the second task while the first still runs: %q", got)
	}
	d.mu.Lock()
	close(d.tasks["a"].done) // the first task ended
	d.mu.Unlock()
	d.unlinkVolumes(first, "a")
	if _, err := os.Lstat(dest); !os.IsNotExist(err) {
		t.Errorf("the link outlived every task of the volume: %v", err)
	}

	// What the host has at a path is never replaced.
	taken := filepath.Join(root, "home")
	if err := os.MkdirAll(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.linkVolumes(cfg("d", &drivers.MountConfig{HostPath: vol, TaskPath: taken})); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a volume over an existing directory: err = %v", err)
	}
	if _, err := d.linkVolumes(cfg("e", &drivers.MountConfig{HostPath: vol, TaskPath: dest, Readonly: true})); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a read-only volume on the host: err = %v", err)
	}
	if _, err := os.Lstat(dest); !os.IsNotExist(err) {
		t.Errorf("a refused task left a link: %v", err)
	}
}
