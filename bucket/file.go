package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// fileTmp is the directory under a file store's root where objects are
// written before they are renamed to their key, so a crash never leaves a
// half-written file under a key. List never shows it.
const fileTmp = ".skynomad-tmp"

// fileStore is a store in a local (or shared) directory: the object at key
// K is the file <dir>/<K>. Object stores have no directories; this one
// makes them as keys need them and removes them when they empty. A key
// cannot be both an object and the parent of others here.
type fileStore struct {
	u   URL
	dir string
}

var _ Store = (*fileStore)(nil)

func newFileStore(u URL) (*fileStore, error) {
	if !filepath.IsAbs(u.Bucket) || u.Prefix != "" {
		return nil, fmt.Errorf("store URL %q: a file store needs an absolute directory and no prefix", u.String())
	}
	return &fileStore{u: u, dir: filepath.Clean(u.Bucket)}, nil
}

func (s *fileStore) URL() URL { return s.u }

// path returns the file of key k after checking k.
func (s *fileStore) path(op, k string) (string, error) {
	if err := checkKey(k); err != nil {
		return "", wrap(s.u, op, "", nil, err)
	}
	if first, _, _ := strings.Cut(k, "/"); first == fileTmp {
		return "", wrap(s.u, op, "", nil, fmt.Errorf("key %q: %s is the store's own", k, fileTmp))
	}
	return filepath.Join(s.dir, filepath.FromSlash(k)), nil
}

// fail classifies an error of the file system.
func (s *fileStore) fail(op, key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return wrap(s.u, op, key, ErrDenied, err)
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(s.dir); errors.Is(serr, fs.ErrNotExist) {
			return wrap(s.u, op, key, ErrNoBucket, err)
		}
	}
	return wrap(s.u, op, key, nil, err)
}

func (s *fileStore) Ensure(ctx context.Context, create bool) (bool, error) {
	fi, err := os.Stat(s.dir)
	switch {
	case err == nil && fi.IsDir():
		return false, nil
	case err == nil:
		return false, wrap(s.u, "ensure", "", nil, fmt.Errorf("%s is not a directory", s.dir))
	case !errors.Is(err, fs.ErrNotExist):
		return false, s.fail("ensure", "", err)
	case !create:
		return false, wrap(s.u, "ensure", "", ErrNoBucket, err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return false, s.fail("create", "", err)
	}
	return true, nil
}

// tempFile creates a file in the store's temporary directory.
func (s *fileStore) tempFile() (*os.File, error) {
	if _, err := os.Stat(s.dir); err != nil {
		return nil, err
	}
	tmp := filepath.Join(s.dir, fileTmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(tmp, "put-")
}

// commit renames the finished temporary file tmp to the file p, making its
// directory; a Delete may remove the directory meanwhile, so it tries
// twice.
func (s *fileStore) commit(tmp, p string) error {
	var err error
	for range 2 {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err = os.Rename(tmp, p); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func (s *fileStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := s.path("put", key)
	if err != nil {
		return err
	}
	f, err := s.tempFile()
	if err != nil {
		return s.fail("put", key, err)
	}
	tmp := f.Name()
	err = func() error {
		defer f.Close()
		n, err := io.Copy(f, contextReader{ctx, r})
		if err != nil {
			return err
		}
		if size >= 0 && n != size {
			return fmt.Errorf("read %d bytes, want %d", n, size)
		}
		if err := f.Chmod(0o644); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return f.Close()
	}()
	if err == nil {
		err = s.commit(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return s.fail("put", key, err)
	}
	return nil
}

func (s *fileStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path("get", key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(s.dir); serr == nil {
				return nil, wrap(s.u, "get", key, ErrNotFound, err)
			}
		}
		return nil, s.fail("get", key, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, wrap(s.u, "get", key, ErrNotFound, err)
	}
	return f, nil
}

func (s *fileStore) List(ctx context.Context, prefix string) ([]Object, error) {
	if _, err := os.Stat(s.dir); err != nil {
		return nil, s.fail("list", "", err)
	}
	// Walk the deepest directory that holds every key with the prefix.
	base := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = prefix[:i]
	}
	if base != "" {
		if err := checkKey(base); err != nil {
			return nil, nil // no key has this prefix
		}
	}
	var objs []Object
	root := filepath.Join(s.dir, filepath.FromSlash(base))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		k := filepath.ToSlash(rel)
		if d.IsDir() {
			if k == fileTmp || (k != "." && !strings.HasPrefix(k, prefix) && !strings.HasPrefix(prefix, k+"/")) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(k, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		} else if err != nil {
			return err
		}
		objs = append(objs, Object{Key: k, Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, s.fail("list", prefix, err)
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Copy hardlinks from's file to to (a later Put of from writes a new file,
// so the copy keeps its content), or copies it where links are refused.
func (s *fileStore) Copy(ctx context.Context, from, to string) error {
	src, err := s.path("copy", from)
	if err != nil {
		return err
	}
	dst, err := s.path("copy", to)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		if _, serr := os.Stat(s.dir); serr == nil {
			return wrap(s.u, "copy", from, ErrNotFound, err)
		}
	}
	if err != nil {
		return s.fail("copy", from, err)
	}
	if from == to {
		return nil
	}
	f, err := s.tempFile()
	if err != nil {
		return s.fail("copy", to, err)
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp)
	if err := os.Link(src, tmp); err == nil {
		if err := s.commit(tmp, dst); err != nil {
			os.Remove(tmp)
			return s.fail("copy", to, err)
		}
		return nil
	}
	r, err := os.Open(src)
	if err != nil {
		return s.fail("copy", from, err)
	}
	defer r.Close()
	return s.Put(ctx, to, r, -1)
}

func (s *fileStore) Delete(ctx context.Context, keys []string) error {
	if _, err := os.Stat(s.dir); err != nil {
		return s.fail("delete", "", err)
	}
	paths := make([]string, len(keys))
	for i, k := range keys {
		p, err := s.path("delete", k)
		if err != nil {
			return err
		}
		paths[i] = p
	}
	return forEach(ctx, len(keys), 16, func(ctx context.Context, i int) error {
		fi, err := os.Lstat(paths[i])
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
			return nil // no object
		}
		if err == nil {
			err = os.Remove(paths[i])
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.fail("delete", keys[i], err)
		}
		s.prune(path.Dir(keys[i]))
		return nil
	})
}

// prune removes the directory of key k and its parents while they are
// empty.
func (s *fileStore) prune(k string) {
	for k != "." && k != "" {
		if os.Remove(filepath.Join(s.dir, filepath.FromSlash(k))) != nil {
			return
		}
		k = path.Dir(k)
	}
}

func (s *fileStore) DeleteBucket(ctx context.Context) error {
	if _, err := os.Stat(s.dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return wrap(s.u, "delete bucket", "", ErrNoBucket, err)
		}
		return s.fail("delete bucket", "", err)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, fileTmp)); err != nil {
		return s.fail("delete bucket", "", err)
	}
	if err := os.Remove(s.dir); err != nil {
		return s.fail("delete bucket", "", fmt.Errorf("%w: is it empty?", err))
	}
	return nil
}

// contextReader stops reading when ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
