package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/internal/filecopy"
	"github.com/skynomad/skynomad/task"
)

// Local file mounts. This host is every node of the attempt, so a mount
// goes where the task expects it, as on a SkyPilot node (which also uses
// symlinks for some mounts):
//
//   - DST absolute or under ~: the source is copied once per attempt into
//     mounts/<i> and DST becomes a symlink to that copy. The link is removed
//     when the attempt ends. An existing DST that is not such a link (or
//     the source itself, as in `~/.netrc: ~/.netrc`) is never replaced: the
//     launch is refused.
//   - DST relative: it is relative to the workdir, so the source is copied
//     into each node's sky_workdir.
//
// With the job-files bucket (engine.Attempt.Files), the runner fetches
// what the bucket holds (uploaded local sources, bucket mounts) into the
// same places: mounts/<i> for a DST on this host, linked as above, or the
// node's workdir for a relative DST. Without it, local sources are copied
// here, and bucket mounts cannot be had.

// hostMount is a mount placed at a path of this host.
type hostMount struct {
	index int
	path  string // absolute DST on this host
}

// hostPath is where DST is on this host; ok is false for a DST relative to
// the workdir.
func hostPath(dest, home string) (string, bool) {
	switch {
	case dest == "~":
		return home, true
	case strings.HasPrefix(dest, "~/"):
		return filepath.Join(home, dest[2:]), true
	case filepath.IsAbs(dest):
		return filepath.Clean(dest), true
	}
	return "", false
}

// hostMounts lists the mounts of t placed at paths of this host.
func hostMounts(t task.Task, home string) []hostMount {
	var out []hostMount
	for i, m := range t.Mounts {
		if p, ok := hostPath(m.Dest, home); ok {
			out = append(out, hostMount{index: i, path: p})
		}
	}
	return out
}

// mountCopy is where the attempt keeps its copy of mount i.
func (a *attempt) mountCopy(i int) string {
	return filepath.Join(a.dir, mountsDir, fmt.Sprint(i))
}

// viaFiles reports whether the runner fetches mount m from the job-files
// bucket (a bucket mount, or a local source uploaded there).
func viaFiles(at *engine.Attempt, m task.Mount) bool {
	return m.Bucket() || at.Files.Store != ""
}

// mountProblem says why the local engine cannot provide m, or "".
func mountProblem(at *engine.Attempt, m task.Mount) string {
	switch {
	case m.Bucket() && !slices.ContainsFunc(at.Files.Buckets, func(b node.Bucket) bool { return b.Path == m.Dest }):
		from := m.Source
		if from == "" {
			from = "bucket " + m.BucketName
		}
		return fmt.Sprintf("file_mounts %s: bucket %s: bucket mounts need the job-files bucket (the controller's), "+
			"which this attempt was launched without", m.Dest, from)
	case m.Bucket() || viaFiles(at, m):
		return ""
	case !filepath.IsAbs(m.Source):
		return fmt.Sprintf("file_mounts %s: source %q is not an absolute path (the client resolves local paths before submitting)",
			m.Dest, m.Source)
	}
	return ""
}

// prepareMounts copies the sources of the mounts placed on this host and
// links them at their destinations, once per attempt.
func (e *Engine) prepareMounts(at *engine.Attempt, a *attempt) error {
	if err := e.prepareVolumes(at, a); err != nil {
		return err
	}
	ready := filepath.Join(a.dir, mountsReadyFile)
	if len(a.hostMounts) == 0 || exists(ready) {
		return nil
	}
	e.removeMounts(a) // links of a launch a crash cut short
	if err := os.RemoveAll(filepath.Join(a.dir, mountsDir)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(a.dir, mountsDir), 0o755); err != nil {
		return err
	}
	for _, hm := range a.hostMounts {
		m := at.Task.Mounts[hm.index]
		if p := mountProblem(at, m); p != "" {
			return engine.Infeasible("%s", p)
		}
		if viaFiles(at, m) {
			// The runner fills mounts/<i>.
			if err := e.link(hm.path, a.mountCopy(hm.index), "mount at its destination", "choose another destination"); err != nil {
				return engine.Infeasible("file_mounts %s: %v", m.Dest, err)
			}
			continue
		}
		if sameFile(hm.path, m.Source) {
			continue // already there: the source is the destination
		}
		if err := copyPath(m.Source, a.mountCopy(hm.index)); err != nil {
			return engine.Infeasible("file_mounts %s: copy %s: %v", m.Dest, m.Source, err)
		}
		if err := e.link(hm.path, a.mountCopy(hm.index), "mount at its destination", "choose another destination"); err != nil {
			return engine.Infeasible("file_mounts %s: %v", m.Dest, err)
		}
	}
	return touch(ready)
}

// mountsInWorkdir copies the mounts whose destination is relative into a
// node's workdir.
func (e *Engine) mountsInWorkdir(at *engine.Attempt, a *attempt, work string) error {
	for _, m := range at.Task.Mounts {
		if _, onHost := hostPath(m.Dest, e.cfg.Home); onHost {
			continue
		}
		if p := mountProblem(at, m); p != "" {
			return engine.Infeasible("%s", p)
		}
		if viaFiles(at, m) {
			continue // the runner fetches it into the workdir
		}
		dst := filepath.Join(work, m.Dest)
		if !strings.HasPrefix(dst, work+string(filepath.Separator)) {
			return engine.Infeasible("file_mounts %s: the destination leaves the workdir", m.Dest)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		os.RemoveAll(dst) // a workdir file of the same name: the mount wins
		if err := copyPath(m.Source, dst); err != nil {
			return engine.Infeasible("file_mounts %s: copy %s: %v", m.Dest, m.Source, err)
		}
	}
	return nil
}

// link makes path a symlink to target. It replaces only a link of this
// engine's (left by another attempt); anything else there is refused,
// saying what the link is for (a mount at its destination, …) and how to
// choose another path.
func (e *Engine) link(path, target, placed, elsewhere string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("cannot create it on this host: %w", err)
		}
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0 && e.ownsLink(path):
		if err := os.Remove(path); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s already exists on this host; the local engine places each %s "+
			"and does not replace what is there (remove it, or %s)", path, placed, elsewhere)
	}
	if err := os.Symlink(target, path); err != nil {
		return fmt.Errorf("cannot create it on this host: %w", err)
	}
	return nil
}

// ownsLink reports whether the symlink at path points into this engine's
// attempts or volumes.
func (e *Engine) ownsLink(path string) bool {
	t, err := os.Readlink(path)
	return err == nil && (strings.HasPrefix(t, filepath.Join(e.cfg.Dir, "attempts")+string(filepath.Separator)) ||
		strings.HasPrefix(t, filepath.Join(e.cfg.Dir, volumesDir)+string(filepath.Separator)))
}

// removeMounts removes the attempt's links from this host: its file
// mounts' and the volume links no other live attempt holds.
func (e *Engine) removeMounts(a *attempt) {
	e.removeVolumeLinks(a)
	prefix := a.dir + string(filepath.Separator)
	for _, hm := range a.hostMounts {
		if t, err := os.Readlink(hm.path); err == nil && strings.HasPrefix(t, prefix) {
			if err := os.Remove(hm.path); err != nil {
				e.cfg.Logger.Warn("cannot remove a mount link", "attempt", a.ref, "path", hm.path, "err", err)
			}
		}
	}
}

// sameFile reports whether a and b are the same existing file.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// copyPath copies a file or a directory tree to dst, which must not exist.
func copyPath(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return copyTree(src, dst)
	}
	return filecopy.Copy(src, dst, fi.Mode().Perm())
}

// nodeFiles is what the runner of node rank fetches: the attempt's Files
// with every mount placed on this host redirected to mounts/<i> (which
// prepareMounts linked at its DST), for rank 0 only, since the nodes share
// this host.
func (a *attempt) nodeFiles(at *engine.Attempt, rank int) node.Files {
	f := at.Files
	onHost := map[string]int{}
	for _, hm := range a.hostMounts {
		onHost[at.Task.Mounts[hm.index].Dest] = hm.index
	}
	place := func(path string) (string, bool) {
		i, ok := onHost[path]
		if !ok {
			return path, true
		}
		return a.mountCopy(i), rank == 0
	}
	f.Copies, f.Buckets = nil, nil
	for _, c := range at.Files.Copies {
		if p, ok := place(c.Path); ok {
			c.Path = p
			f.Copies = append(f.Copies, c)
		}
	}
	for _, b := range at.Files.Buckets {
		if p, ok := place(b.Path); ok {
			b.Path = p
			f.Buckets = append(f.Buckets, b)
		}
	}
	return f
}
