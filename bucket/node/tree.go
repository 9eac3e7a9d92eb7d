package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skynomad/skynomad/internal/filecopy"
	"github.com/skynomad/skynomad/internal/units"
)

// ErrNotFound is wrapped by errors about an object, tree or bucket that
// is not in its store.
var ErrNotFound = errors.New("not found")

// tally counts what a fetch put in place.
type tally struct {
	dir   bool
	files int
	bytes int64
}

func (t tally) String() string {
	if t.files == 1 {
		return fmt.Sprintf("1 file, %s", units.Bytes(t.bytes))
	}
	return fmt.Sprintf("%d files, %s", t.files, units.Bytes(t.bytes))
}

// copyLocal copies the file or tree at src to dst, which must not exist.
// Symbolic links inside a tree are skipped and reported to skipped, as
// rclone does: a store holds files, not links.
func copyLocal(ctx context.Context, src, dst string, skipped func(rel string)) error {
	root, err := filepath.EvalSymlinks(src)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode().IsRegular():
		return filecopy.Copy(root, dst, defaultFileMode)
	case !fi.IsDir():
		return fmt.Errorf("%s is neither a file nor a directory", src)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, defaultDirMode)
		case d.Type().IsRegular():
			return filecopy.Copy(p, target, defaultFileMode)
		default:
			skipped(filepath.ToSlash(rel))
			return nil
		}
	})
}

// normalize gives what was downloaded to p the default modes (whatever
// the umask or the source said) and counts it.
func normalize(p string) (tally, error) {
	var t tally
	fi, err := os.Lstat(p)
	if err != nil {
		return t, err
	}
	if !fi.IsDir() {
		t.files, t.bytes = 1, fi.Size()
		return t, os.Chmod(p, defaultFileMode)
	}
	t.dir = true
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(q, defaultDirMode)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			t.files++
			t.bytes += info.Size()
			return os.Chmod(q, defaultFileMode)
		default:
			return nil
		}
	})
	return t, err
}

// mergeInto moves the tree src into the existing directory dst: files
// replace what is at their path, directories merge, and what dst held
// besides stays.
func mergeInto(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, statErr := os.Lstat(target)
		exists := statErr == nil
		if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
			return statErr
		}
		if d.IsDir() {
			if exists && fi.IsDir() {
				// Writable, so the entries can move in.
				return os.Chmod(target, defaultDirMode)
			}
			if exists {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			return os.Mkdir(target, defaultDirMode)
		}
		if exists && fi.IsDir() {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		return os.Rename(p, target)
	})
}
