package local

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// Volumes. A named volume is a directory of this host, <Dir>/volumes/<name>,
// made on first use and kept across jobs; an ephemeral one is a directory
// of the attempt, gone with it. Either is placed at its path as a symbolic
// link, as file mounts are (mounts.go). A named volume's link may serve
// several live attempts: it is removed when the last of them ends.
// volumeLinksFile records an attempt's links, so that they can be
// removed after a controller restart too.

const (
	volumesDir      = "volumes"      // <Dir>/volumes/<name>; <attempt>/volumes/<i>
	volumeLinksFile = "volume-links" // JSON list of the attempt's links
)

// volumeLink is one volume placed at its path on this host.
type volumeLink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// volumesOf lists the volumes of every task of the attempt (each member
// of a job group).
func volumesOf(at *engine.Attempt) []task.Volume {
	if len(at.Members) == 0 {
		return at.Task.Volumes
	}
	var out []task.Volume
	for _, m := range at.Members {
		out = append(out, m.Task.Volumes...)
	}
	return out
}

// volumeTarget is the directory a volume is on this host.
func (e *Engine) volumeTarget(a *attempt, i int, v task.Volume) string {
	if v.Ephemeral() {
		return filepath.Join(a.dir, volumesDir, strconv.Itoa(i))
	}
	return filepath.Join(e.cfg.Dir, volumesDir, v.Name, filepath.FromSlash(v.SubPath))
}

// prepareVolumes makes the attempt's volume directories and links them at
// their paths, recording the links first.
func (e *Engine) prepareVolumes(at *engine.Attempt, a *attempt) error {
	vols := volumesOf(at)
	if len(vols) == 0 {
		return nil
	}
	links := make([]volumeLink, len(vols))
	for i, v := range vols {
		links[i] = volumeLink{Path: filepath.Clean(v.Path), Target: e.volumeTarget(a, i, v)}
	}
	b, err := json.Marshal(links)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(a.dir, volumeLinksFile), b); err != nil {
		return err
	}
	for i, l := range links {
		if err := os.MkdirAll(l.Target, 0o755); err != nil {
			return engine.Infeasible("volumes %s: %v", vols[i].Path, err)
		}
		if err := e.placeVolumeLink(a, l); err != nil {
			return engine.Infeasible("volumes %s: %v", vols[i].Path, err)
		}
	}
	return nil
}

// placeVolumeLink links l.Path to l.Target. A link already there to the
// same target is shared; a link of this engine's elsewhere is replaced
// unless a live attempt holds it; anything else is never replaced.
func (e *Engine) placeVolumeLink(a *attempt, l volumeLink) error {
	if fi, err := os.Lstat(l.Path); err == nil && fi.Mode()&fs.ModeSymlink != 0 && e.ownsLink(l.Path) {
		if t, _ := os.Readlink(l.Path); t == l.Target {
			return nil
		}
		if e.linkHeld(l.Path, a) {
			return fmt.Errorf("another running job has a different volume at %s", l.Path)
		}
	}
	return e.link(l.Path, l.Target, "volume at its path", "mount the volume elsewhere")
}

// removeVolumeLinks removes the attempt's volume links that no other live
// attempt holds.
func (e *Engine) removeVolumeLinks(a *attempt) {
	for _, l := range readVolumeLinks(a.dir) {
		if e.linkHeld(l.Path, a) {
			continue
		}
		if t, err := os.Readlink(l.Path); err == nil && t == l.Target {
			if err := os.Remove(l.Path); err != nil {
				e.cfg.Logger.Warn("cannot remove a volume link", "attempt", a.ref, "path", l.Path, "err", err)
			}
		}
	}
}

// linkHeld reports whether a live attempt other than self has a volume
// link at path.
func (e *Engine) linkHeld(path string, self *attempt) bool {
	e.mu.Lock()
	dirs := make([]string, 0, len(e.attempts))
	for _, o := range e.attempts {
		if o != self {
			dirs = append(dirs, o.dir)
		}
	}
	e.mu.Unlock()
	for _, dir := range dirs {
		if slices.ContainsFunc(readVolumeLinks(dir), func(l volumeLink) bool { return l.Path == path }) {
			return true
		}
	}
	return false
}

func readVolumeLinks(dir string) []volumeLink {
	b, err := os.ReadFile(filepath.Join(dir, volumeLinksFile))
	if err != nil {
		return nil
	}
	var links []volumeLink
	_ = json.Unmarshal(b, &links) // unreadable: nothing to remove
	return links
}

// volumeProblem says why the local engine cannot place v, or "": its path
// is absolute, its name one directory, its sub_path inside it.
func volumeProblem(v task.Volume) string {
	sub := filepath.Clean(filepath.FromSlash(v.SubPath))
	switch {
	case !filepath.IsAbs(v.Path):
		return fmt.Sprintf("volumes %s: not an absolute path", v.Path)
	case !v.Ephemeral() && (v.Name == "." || v.Name == ".." || strings.ContainsAny(v.Name, `/\`)):
		return fmt.Sprintf("volumes %s: %q is not a volume name", v.Path, v.Name)
	case v.SubPath != "" && (filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, ".."+string(filepath.Separator))):
		return fmt.Sprintf("volumes %s: sub_path %q leaves the volume", v.Path, v.SubPath)
	}
	return ""
}
