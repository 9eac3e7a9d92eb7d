package translator

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// LocalPaths says where the local paths a task names (a local workdir,
// local file_mounts sources) are, as SkyPilot reads them: `~` is the
// caller's home and a relative path is relative to the directory the
// command runs in (not the task file's). The controller may run elsewhere,
// so the loader turns every such path into an absolute one.
type LocalPaths struct {
	// Dir is the caller's working directory (absolute).
	Dir string
	// Home is the caller's home directory, for `~/...`.
	Home string
	// Stat, when set, is asked about each path, which must exist (a
	// directory for a workdir); the loader does no file I/O of its own.
	Stat func(path string) (fs.FileInfo, error)
}

// resolve turns p into an absolute path.
func (lp *LocalPaths) resolve(p string) string {
	switch {
	case p == "~":
		return lp.Home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(lp.Home, p[2:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	}
	return filepath.Join(lp.Dir, p)
}

// localPaths resolves and checks the task's local workdir and local mount
// sources. Errors are located at the value as written (or at the flag)
// and say what its variables held.
func (d *taskDecoder) localPaths(td *taskDoc, lp *LocalPaths) error {
	if lp == nil {
		return nil
	}
	if w := td.t.Workdir; w != nil && w.Path != "" {
		abs := lp.resolve(w.Path)
		if err := d.checkPath(lp, abs, true); err != nil {
			return d.errorAt(unalias(td.workdir.val), td.workdir.path, "%s %s", writtenAs(td.files.workdir.expandedPath, w.Path), err.Error()).
				accepting("an existing local directory (relative to where the command runs), or {url, ref} for a git repository")
		}
		w.Path = abs
	}
	for i := range td.t.Mounts {
		m, md := &td.t.Mounts[i], &td.files.mounts[i]
		if m.LocalSource() {
			abs := lp.resolve(m.Source)
			if err := d.checkPath(lp, abs, false); err != nil {
				at := td.mounts[i]
				return d.errorAt(unalias(at.val), at.path, "source %s %s", writtenAs(md.expandedSource, m.Source), err.Error()).
					accepting("an existing local file or directory (relative to where the command runs), or a bucket URL (s3://, gs://, ...)")
			}
			m.Source = abs
		}
		for k := range m.Sources {
			src := &m.Sources[k]
			abs := lp.resolve(src.Path)
			if err := d.checkPath(lp, abs, false); err != nil {
				t := md.sources[k]
				return d.errorAt(t.node, t.path, "%s %s", writtenAs(md.expandedSources[k], src.Path), err.Error()).
					accepting("an existing local file or directory (relative to where the command runs)")
			}
			if src.Name == "." || src.Name == ".." || src.Name == "~" {
				src.Name = filepath.Base(abs)
			}
			src.Path = abs
		}
	}
	return nil
}

// writtenAs is a value as written and what its variables held, or the
// value itself when it was not written in the file (a flag).
func writtenAs(e expanded, value string) string {
	if e.written == "" {
		return value
	}
	return e.written + e.note()
}

// checkPath says what is wrong with a local path, or nil.
func (d *taskDecoder) checkPath(lp *LocalPaths, abs string, wantDir bool) error {
	if lp.Stat == nil {
		return nil
	}
	fi, err := lp.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("does not exist" + resolvedNote(abs))
	case err != nil:
		return errors.New("cannot be read: " + err.Error())
	case wantDir && !fi.IsDir():
		return errors.New("is not a directory" + resolvedNote(abs))
	}
	return nil
}

func resolvedNote(abs string) string { return " (looked for " + abs + ")" }

// at is where a value was written (its node and dotted path, or the flag
// that gave it).
type at struct {
	val  *yaml.Node
	path string
}

// taskOverrides decodes the task-level overrides (--num-nodes, --workdir)
// through the same table as the file's own keys, so a flag is validated
// exactly as the YAML field would be.
func (d *taskDecoder) taskOverrides(o Overrides, td *taskDoc) error {
	return taskFields.decodePairs(d, o.taskPairs(), td)
}
