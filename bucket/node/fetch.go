package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Bucket modes.
const (
	ModeMount       = "MOUNT"
	ModeCopy        = "COPY"
	ModeMountCached = "MOUNT_CACHED"
)

// bucketMode is mode with SkyPilot's default, MOUNT.
func bucketMode(mode string) string {
	if mode == "" {
		return ModeMount
	}
	return mode
}

// Options says where Files go on this node and how its stores are reached.
type Options struct {
	// Workdir is where Files.Workdir goes and the base of relative
	// paths; absolute.
	Workdir string
	// Home resolves "~/..." paths (default: HOME in Env).
	Home string
	// Env is the task's environment, which holds the stores' credentials
	// and endpoints (see CredentialEnv); nil means os.Environ().
	Env []string
	// Rclone is the rclone binary (default "rclone" on PATH); only s3://
	// and gs:// need it.
	Rclone string
	// CacheDir is the parent of each mount's rclone cache directory
	// (default os.TempDir()).
	CacheDir string
	// Log receives progress lines for the task's log (nil: silent).
	Log func(format string, args ...any)
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if !filepath.IsAbs(o.Workdir) {
		return o, fmt.Errorf("node: Options.Workdir %q: want an absolute path", o.Workdir)
	}
	o.Workdir = filepath.Clean(o.Workdir)
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Home == "" {
		o.Home = envMap(o.Env)["HOME"]
	}
	if o.Home != "" {
		if !filepath.IsAbs(o.Home) {
			return o, fmt.Errorf("node: home %q: want an absolute path", o.Home)
		}
		o.Home = filepath.Clean(o.Home)
	}
	if o.Rclone == "" {
		o.Rclone = "rclone"
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o, nil
}

// Error is a failure to put one item of Files in place, or to unmount it.
type Error struct {
	// Item is "workdir" or "file mount".
	Item string
	// Path is where the item goes on this node.
	Path string
	// Mode is a bucket's mode; empty for the job's own uploads.
	Mode string
	// URL is where the item comes from.
	URL string
	Err error
}

func (e *Error) Error() string {
	src := e.URL
	if e.Mode != "" {
		src = e.Mode + " " + e.URL
	}
	return fmt.Sprintf("%s %s (%s): %v", e.Item, e.Path, src, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// with returns e, failed with err.
func (e *Error) with(err error) error {
	e.Err = err
	return e
}

// Fetch puts f in place on this node, in order: the workdir, merged into
// o.Workdir (what the directory held besides stays); each copy, replacing
// what is at its path; each bucket: COPY downloaded like a copy, MOUNT and
// MOUNT_CACHED mounted. Downloaded files get mode 0644 and directories
// 0755, then what the upload's mode list says. Parent directories are
// created. Nothing is put in place partly: each item is downloaded beside
// its destination first.
//
// A file:// store or bucket is read directly; s3:// and gs:// go through
// rclone (Options.Rclone). MOUNT mounts with `rclone mount
// --vfs-cache-mode minimal`: a file written through the mount is in the
// bucket once it is closed. MOUNT_CACHED uses --vfs-cache-mode writes: a
// closed file is uploaded a second later, and Unmount waits for the
// uploads. A MOUNT or MOUNT_CACHED of a file:// bucket is a symbolic link
// at the path to the bucket's directory (which must exist): writes land
// in it at once. A mount path must be missing, an empty directory or a
// symbolic link (replaced); a dead rclone mount left there by a killed
// runner is unmounted first.
//
// Fetch returns the Mounts for Unmount. On error nothing it mounted stays
// mounted; the error is an *Error naming the item, wrapping ErrNotFound
// when the store lacks it and an *RcloneError when rclone failed.
func Fetch(ctx context.Context, f Files, o Options) (*Mounts, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	fe := &fetcher{o: o}
	m := &Mounts{}
	if err := fe.fetch(ctx, f, m); err != nil {
		// Nothing is pending on mounts this young: a short bound will do.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(err, m.Unmount(uctx))
	}
	return m, nil
}

// fetcher is one Fetch.
type fetcher struct {
	o  Options
	rc *rclone
}

func (fe *fetcher) fetch(ctx context.Context, f Files, m *Mounts) error {
	var store location
	if f.Workdir != "" || len(f.Copies) > 0 {
		if f.Store == "" {
			return errors.New("node: Files.Store is empty, but there is a workdir or a copy to fetch")
		}
		var err error
		if store, err = parseLocation(f.Store); err != nil {
			return fmt.Errorf("node: job-files bucket: %w", err)
		}
	}
	if f.Workdir != "" {
		if err := fe.workdir(ctx, store, f); err != nil {
			return err
		}
	}
	for _, c := range f.Copies {
		if err := fe.copy(ctx, store, c); err != nil {
			return err
		}
	}
	for _, b := range f.Buckets {
		if err := fe.bucket(ctx, b, m); err != nil {
			return err
		}
	}
	return nil
}

func (fe *fetcher) workdir(ctx context.Context, store location, f Files) error {
	e := &Error{Item: "workdir", Path: fe.o.Workdir, URL: store.String() + "/" + f.Workdir}
	src, err := store.join(f.Workdir)
	if err != nil {
		return e.with(err)
	}
	e.URL = src.String()
	start := time.Now()
	modes, err := fe.modes(ctx, store, f.WorkdirModes)
	if err != nil {
		return e.with(err)
	}
	if err := os.MkdirAll(fe.o.Workdir, defaultDirMode); err != nil {
		return e.with(err)
	}
	// Staged inside the workdir: the one directory surely writable.
	stage, err := os.MkdirTemp(fe.o.Workdir, ".skynomad-fetch-")
	if err != nil {
		return e.with(err)
	}
	defer os.RemoveAll(stage)
	item := filepath.Join(stage, "workdir")
	t, err := fe.download(ctx, src, item)
	if err != nil {
		return e.with(err)
	}
	if !t.dir {
		return e.with(errors.New("the store holds a single file where the workdir (a directory) was uploaded"))
	}
	if err := mergeInto(item, fe.o.Workdir); err != nil {
		return e.with(err)
	}
	if err := modes.apply(fe.o.Workdir, fe.skippedMode("workdir")); err != nil {
		return e.with(err)
	}
	fe.o.Log("workdir %s: %s from %s in %s", fe.o.Workdir, t, src, time.Since(start).Round(time.Millisecond))
	return nil
}

func (fe *fetcher) copy(ctx context.Context, store location, c Copy) error {
	e := &Error{Item: "file mount", Path: c.Path, URL: store.String() + "/" + c.Key}
	dst, err := resolvePath(c.Path, fe.o.Workdir, fe.o.Home)
	if err != nil {
		return e.with(err)
	}
	e.Path = dst
	src, err := store.join(c.Key)
	if err != nil {
		return e.with(err)
	}
	e.URL = src.String()
	start := time.Now()
	modes, err := fe.modes(ctx, store, c.Modes)
	if err != nil {
		return e.with(err)
	}
	t, err := fe.replace(ctx, src, dst, func(t tally) error {
		switch {
		case t.dir && !c.Dir:
			return errors.New("the store holds a directory where a single file was uploaded")
		case !t.dir && c.Dir:
			return errors.New("the store holds a single file where a directory was uploaded")
		}
		return nil
	})
	if err != nil {
		return e.with(err)
	}
	if err := modes.apply(dst, fe.skippedMode(dst)); err != nil {
		return e.with(err)
	}
	fe.o.Log("file mount %s: %s from %s in %s", dst, t, src, time.Since(start).Round(time.Millisecond))
	return nil
}

func (fe *fetcher) bucket(ctx context.Context, b Bucket, m *Mounts) error {
	b.Mode = bucketMode(b.Mode)
	e := &Error{Item: "file mount", Path: b.Path, Mode: b.Mode, URL: b.URL}
	dst, err := resolvePath(b.Path, fe.o.Workdir, fe.o.Home)
	if err != nil {
		return e.with(err)
	}
	e.Path = dst
	loc, err := parseLocation(b.URL)
	if err != nil {
		return e.with(err)
	}
	start := time.Now()
	switch {
	case b.Mode == ModeCopy:
		t, err := fe.replace(ctx, loc, dst, nil)
		if err != nil {
			return e.with(err)
		}
		fe.o.Log("file mount %s: %s from %s in %s", dst, t, loc, time.Since(start).Round(time.Millisecond))
		return nil
	case b.Mode != ModeMount && b.Mode != ModeMountCached:
		return e.with(fmt.Errorf("unknown mode %q: want %s, %s or %s", b.Mode, ModeMount, ModeCopy, ModeMountCached))
	case loc.local():
		mt, err := fe.link(loc, b, dst)
		if err != nil {
			return e.with(err)
		}
		m.add(mt)
		fe.o.Log("file mount %s: %s %s linked to %s", dst, b.Mode, loc, loc.key)
		return nil
	}
	mt, err := fe.mount(ctx, loc, b, dst)
	if err != nil {
		return e.with(err)
	}
	m.add(mt)
	fe.o.Log("file mount %s: %s %s ready in %s", dst, b.Mode, loc, time.Since(start).Round(time.Millisecond))
	return nil
}

// mount mounts the s3:// or gs:// bucket loc at dst with rclone.
func (fe *fetcher) mount(ctx context.Context, loc location, b Bucket, dst string) (*mount, error) {
	r, err := fe.rclone()
	if err != nil {
		return nil, err
	}
	if err := fe.checkBucket(ctx, r, loc); err != nil {
		return nil, err
	}
	point, err := fe.mountPoint(dst, false)
	if err != nil {
		return nil, err
	}
	if fe.o.CacheDir != "" {
		if err := os.MkdirAll(fe.o.CacheDir, 0o700); err != nil {
			return nil, err
		}
	}
	cacheDir, err := os.MkdirTemp(fe.o.CacheDir, "skynomad-rclone-")
	if err != nil {
		return nil, err
	}
	return startMount(ctx, r, loc, b, point, cacheDir, fe.o.Log)
}

// link makes path a symbolic link to the file:// bucket loc.
func (fe *fetcher) link(loc location, b Bucket, dst string) (*mount, error) {
	fi, err := os.Stat(loc.key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("directory %s: %w", loc.key, ErrNotFound)
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is not a directory", loc.key)
	}
	point, err := fe.mountPoint(dst, true)
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(loc.key, point); err != nil {
		return nil, err
	}
	return &mount{b: b, path: point, url: loc.String(), log: fe.o.Log, linkTo: loc.key}, nil
}

// mountPoint readies dst to be mounted on (or, for a link, replaced) and
// returns it with its directories' symbolic links resolved. dst may be
// missing, an empty directory or a symbolic link (removed); a dead rclone
// mount there is unmounted.
func (fe *fetcher) mountPoint(dst string, forLink bool) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), defaultDirMode); err != nil {
		return "", err
	}
	point := realPath(dst)
	fi, err := os.Lstat(point)
	if errors.Is(err, syscall.ENOTCONN) && mounted(point) {
		// rclone died (its runner was killed): the mount is dead.
		fe.o.Log("file mount %s: unmounting the dead mount left there", point)
		if err := fusermount(point, true); err != nil {
			return "", fmt.Errorf("a dead mount is at the path: %w", err)
		}
		fi, err = os.Lstat(point)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if forLink {
			return point, nil
		}
		return point, os.Mkdir(point, defaultDirMode)
	case err != nil:
		return "", err
	case fi.Mode()&fs.ModeSymlink != 0:
		if err := os.Remove(point); err != nil {
			return "", err
		}
		if forLink {
			return point, nil
		}
		return point, os.Mkdir(point, defaultDirMode)
	case !fi.IsDir():
		return "", errors.New("the path is a file, not a directory")
	}
	if mounted(point) {
		return "", errors.New("the path is already a mount point (left by a runner that was killed? node.Sweep ends those)")
	}
	entries, err := os.ReadDir(point)
	if err != nil {
		return "", err
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("the path is a directory that is not empty (%d entries): mount to an empty or new directory", len(entries))
	}
	if forLink {
		return point, os.Remove(point)
	}
	return point, nil
}

// replace puts the file or tree at src in place of dst, once check (if
// any) accepts what was downloaded.
func (fe *fetcher) replace(ctx context.Context, src location, dst string, check func(tally) error) (tally, error) {
	if err := fe.replaceable(dst); err != nil {
		return tally{}, err
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, defaultDirMode); err != nil {
		return tally{}, err
	}
	stage, err := os.MkdirTemp(parent, ".skynomad-fetch-")
	if err != nil {
		return tally{}, err
	}
	defer os.RemoveAll(stage)
	item := filepath.Join(stage, "item")
	t, err := fe.download(ctx, src, item)
	if err != nil {
		return t, err
	}
	if check != nil {
		if err := check(t); err != nil {
			return t, err
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		return t, err
	}
	return t, os.Rename(item, dst)
}

// replaceable refuses to remove the root, the home directory, the
// workdir, any of their parents, or anything holding a mount point.
func (fe *fetcher) replaceable(dst string) error {
	real := realPath(dst)
	for _, keep := range []struct{ name, path string }{{"the root directory", "/"}, {"the home directory", fe.o.Home}, {"the workdir", fe.o.Workdir}} {
		if keep.path == "" {
			continue
		}
		if dst == keep.path || real == realPath(keep.path) {
			return fmt.Errorf("refusing to replace %s: it is %s", dst, keep.name)
		}
		if within(keep.path, dst) || within(realPath(keep.path), real) {
			return fmt.Errorf("refusing to replace %s: it holds %s %s", dst, keep.name, keep.path)
		}
	}
	ms, err := readMounts()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.point == real || within(m.point, real) {
			return fmt.Errorf("refusing to replace %s: it holds the mount point %s", dst, m.point)
		}
	}
	return nil
}

// download puts the file or tree at src at dst, which must not exist,
// with default modes.
func (fe *fetcher) download(ctx context.Context, src location, dst string) (tally, error) {
	if src.local() {
		if err := copyLocal(ctx, src.key, dst, fe.skippedLink(src)); err != nil {
			return tally{}, err
		}
		return normalize(dst)
	}
	r, err := fe.rclone()
	if err != nil {
		return tally{}, err
	}
	// copyto takes a file to a file and a tree to a directory.
	if err := r.run(ctx, "copyto", "--fast-list", src.remote(), dst); err != nil {
		if isRcloneNotFound(err) {
			return tally{}, fmt.Errorf("%w (%v)", ErrNotFound, err)
		}
		return tally{}, err
	}
	t, err := normalize(dst)
	if errors.Is(err, fs.ErrNotExist) {
		// S3 lists a missing prefix as an empty tree: nothing was there.
		return t, ErrNotFound
	}
	return t, err
}

// modes reads the mode list at key under store; none when key is "".
func (fe *fetcher) modes(ctx context.Context, store location, key string) (modeList, error) {
	if key == "" {
		return nil, nil
	}
	loc, err := store.join(key)
	if err != nil {
		return nil, fmt.Errorf("mode list: %w", err)
	}
	var data []byte
	if loc.local() {
		data, err = os.ReadFile(loc.key)
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotFound
		}
	} else {
		data, err = fe.downloadSmall(ctx, loc)
	}
	if err != nil {
		return nil, fmt.Errorf("mode list %s: %w", loc, err)
	}
	ml, err := parseModes(data)
	if err != nil {
		return nil, fmt.Errorf("mode list %s: %w", loc, err)
	}
	return ml, nil
}

// downloadSmall reads the object at loc through rclone.
func (fe *fetcher) downloadSmall(ctx context.Context, loc location) ([]byte, error) {
	dir, err := os.MkdirTemp("", "skynomad-fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "object")
	t, err := fe.download(ctx, loc, p)
	if err != nil {
		return nil, err
	}
	if t.dir {
		return nil, errors.New("a directory, not a file")
	}
	return os.ReadFile(p)
}

// checkBucket fails when loc's bucket is not there; the path under it
// may be missing (a mount creates it with its first write).
func (fe *fetcher) checkBucket(ctx context.Context, r *rclone, loc location) error {
	err := r.run(ctx, "lsf", "--max-depth", "1", loc.remote())
	if err == nil {
		return nil
	}
	if isRcloneNotFound(err) && loc.key != "" {
		root := loc.bucketRoot()
		rerr := r.run(ctx, "lsf", "--max-depth", "1", root.remote())
		if rerr == nil {
			return nil
		}
		if !isRcloneNotFound(rerr) {
			// Listing the bucket may be forbidden where its path is not.
			fe.o.Log("file mount: cannot list %s (%v); mounting %s anyway", root, rerr, loc)
			return nil
		}
		err = rerr
	}
	if isRcloneNotFound(err) {
		return fmt.Errorf("bucket %s: %w (%v)", loc.bucketRoot(), ErrNotFound, err)
	}
	return err
}

// rclone finds the rclone binary, once.
func (fe *fetcher) rclone() (*rclone, error) {
	if fe.rc != nil {
		return fe.rc, nil
	}
	bin, err := exec.LookPath(fe.o.Rclone)
	if err != nil {
		return nil, fmt.Errorf("s3:// and gs:// need rclone (1.60 or later) on the node: %w", err)
	}
	fe.rc = &rclone{bin: bin, env: rcloneEnv(fe.o.Env)}
	return fe.rc, nil
}

func (fe *fetcher) skippedMode(what string) func(string) {
	return func(rel string) {
		fe.o.Log("%s: mode list names %q, which is not there; skipped", what, rel)
	}
}

func (fe *fetcher) skippedLink(src location) func(string) {
	return func(rel string) {
		fe.o.Log("%s: %q is not a regular file or directory; skipped", src, rel)
	}
}
