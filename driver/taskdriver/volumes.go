package taskdriver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/nomad/plugins/drivers"
)

// A task's volumes (Nomad's volume_mount of a host or CSI volume) reach a
// task in an image as bind mounts (dockerOptionArgs). A task on the host
// sees the host's filesystem: each volume is placed at its path as a
// symbolic link to where Nomad has it, as the local engine places mounts.
// A link another running task of this plugin placed to the same volume is
// shared, and stays until the last such task is destroyed.

// linkVolumes links each of the task's volumes at its path and returns the
// links. Nothing that is not such a link is replaced; a read-only volume
// is refused, since a link cannot keep the task from writing.
func (d *Driver) linkVolumes(cfg *drivers.TaskConfig) ([]string, error) {
	var links []string
	fail := func(err error) ([]string, error) {
		d.unlinkVolumes(links, cfg.ID)
		return nil, err
	}
	for _, m := range cfg.Mounts {
		host, path := filepath.Clean(m.HostPath), filepath.Clean(m.TaskPath)
		switch {
		case host == path:
			continue // the volume is where the task wants it
		case !filepath.IsAbs(path):
			return fail(fmt.Errorf("volume at %q: a task on the host mounts volumes at absolute paths", m.TaskPath))
		case m.Readonly:
			return fail(fmt.Errorf("volume at %s is read-only, which the skypilot driver cannot enforce for a task on the host "+
				"(it links the volume there); run the task in an image, or mount the volume read-write", path))
		}
		if err := d.placeLink(path, host, cfg.ID); err != nil {
			return fail(fmt.Errorf("volume at %s: %w", path, err))
		}
		links = append(links, path)
	}
	return links, nil
}

// placeLink makes path a link to target, unless it already is one. A link
// elsewhere that no running task of this plugin holds is left from an
// ended one and is replaced.
func (d *Driver) placeLink(path, target, self string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink == 0:
		return fmt.Errorf("%s already exists on node and is not a link this plugin placed; the task's volume would hide it "+
			"(remove it, or mount the volume elsewhere)", path)
	default:
		if t, _ := os.Readlink(path); t == target {
			return nil
		}
		if d.linkHeld(path, self) {
			return fmt.Errorf("another task on this node has a different volume at %s", path)
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	err = os.Symlink(target, path)
	if t, _ := os.Readlink(path); errors.Is(err, fs.ErrExist) && t == target {
		return nil // another task of the volume placed it meanwhile
	}
	return err
}

// unlinkVolumes removes the links no other running task holds.
func (d *Driver) unlinkVolumes(links []string, self string) {
	for _, path := range links {
		if d.linkHeld(path, self) {
			continue
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if err := os.Remove(path); err != nil {
				d.logger.Warn("cannot remove a volume link", "path", path, "error", err)
			}
		}
	}
}

// linkHeld reports whether a running task other than self holds a link at
// path.
func (d *Driver) linkHeld(path, self string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, t := range d.tasks {
		if id != self && t.running() && slices.Contains(t.state.VolumeLinks, path) {
			return true
		}
	}
	return false
}
