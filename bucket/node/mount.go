package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// How rclone mounts are run and waited for.
const (
	// mountStartTimeout bounds rclone mount until its mount point is mounted.
	mountStartTimeout = 30 * time.Second
	mountPoll         = 20 * time.Millisecond
	// exitGrace is how long rclone has to exit once its mount is gone
	// (lazyExitGrace if it was busy), killGrace how long after SIGTERM
	// before SIGKILL.
	exitGrace     = 10 * time.Second
	lazyExitGrace = 2 * time.Second
	killGrace     = 5 * time.Second
	flushPoll     = 200 * time.Millisecond
	// flushSettle is how long Unmount lets rclone take in the files
	// closed last before it asks what is left to upload (see flush).
	flushSettle = 300 * time.Millisecond
	// dirCacheTime bounds how stale a mount's listings are: what another
	// node (or an earlier attempt) wrote shows within it.
	dirCacheTime = "5s"
	// writeBack is how long MOUNT_CACHED keeps a closed file before
	// uploading it.
	writeBack = "1s"
)

// markerEnv marks an rclone mount process with its mount point, so Sweep
// can find it once its runner is gone.
const markerEnv = "SKYNOMAD_MOUNT"

// Mounts are the buckets Fetch mounted on this node.
type Mounts struct {
	mu     sync.Mutex
	mounts []*mount
	ended  bool
	err    error
}

func (m *Mounts) add(mt *mount) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounts = append(m.mounts, mt)
}

// Paths returns the mount points (and file:// links), in the order they
// were made.
func (m *Mounts) Paths() []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.mounts))
	for i, mt := range m.mounts {
		out[i] = mt.path
	}
	return out
}

// Unmount ends every mount, the last made first. A MOUNT_CACHED mount's
// writes are uploaded first: Unmount waits, as long as ctx allows, until
// rclone has no upload in progress or queued and no file written but not
// uploaded (one the task still holds open counts); writes still pending
// when ctx ends are lost, and the error says so. Then each mount is unmounted
// (fusermount3 -u, else fusermount -u, lazily with -z as a last resort)
// and its rclone process waited for (SIGTERM, then SIGKILL, if it
// lingers); the mount's rclone cache is removed. A file:// mount's link
// is removed. The unmounting itself is not bounded by ctx: no mount or
// rclone process is left behind. Unmount may be called more than once
// (and on a nil *Mounts); later calls return the first one's result.
func (m *Mounts) Unmount(ctx context.Context) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return m.err
	}
	m.ended = true
	var errs []error
	for i := len(m.mounts) - 1; i >= 0; i-- {
		if err := m.mounts[i].end(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	m.err = errors.Join(errs...)
	return m.err
}

// mount is one mounted bucket: an rclone mount process, or a symbolic
// link to a file:// bucket.
type mount struct {
	b     Bucket
	path  string // the mount point, symbolic links resolved
	url   string
	log   func(string, ...any)
	start time.Time

	linkTo string // a file:// bucket: the directory path links to

	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd has been waited for
	waitErr  error
	stderr   *lineTail     // rclone's log, as followed in logPath
	logDone  chan struct{} // closed once the log is read to its end
	cacheDir string

	cached bool // MOUNT_CACHED: rclone's remote control tells its uploads
	rcUser string
	rcPass string
	rcMu   sync.Mutex
	rcURL  string
	rcSeen chan struct{}
}

func (mt *mount) wrap(err error) error {
	return &Error{Item: "file mount", Path: mt.path, Mode: mt.b.Mode, URL: mt.url, Err: err}
}

// startMount runs `rclone mount` of loc at point and waits until point is
// mounted. On failure nothing is left running or mounted, and cacheDir is
// removed.
func startMount(ctx context.Context, r *rclone, loc location, b Bucket, point, cacheDir string, log func(string, ...any)) (*mount, error) {
	mt := &mount{
		b: b, path: point, url: loc.String(), log: log, start: time.Now(),
		exited: make(chan struct{}), logDone: make(chan struct{}), cacheDir: cacheDir,
		cached: b.Mode == ModeMountCached, rcSeen: make(chan struct{}),
	}
	mt.stderr = newLineTail(stderrLines, mt.onStderr)
	args := []string{"mount", loc.remote(), point,
		"--config", os.DevNull,
		"--dir-cache-time", dirCacheTime,
		"--cache-dir", cacheDir,
	}
	env := append(append([]string(nil), r.env...), markerEnv+"="+point)
	if mt.cached {
		mt.rcUser, mt.rcPass = "skynomad", randomToken()
		args = append(args,
			"--vfs-cache-mode", "writes",
			"--vfs-write-back", writeBack,
			"--rc", "--rc-addr", "127.0.0.1:0")
		env = append(env, "RCLONE_RC_USER="+mt.rcUser, "RCLONE_RC_PASS="+mt.rcPass)
	} else {
		args = append(args, "--vfs-cache-mode", "minimal")
	}
	// rclone logs to a file, not a pipe: a pipe would kill it with
	// SIGPIPE once the runner is gone, before it could unmount.
	logPath := filepath.Join(cacheDir, "rclone.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		os.RemoveAll(cacheDir)
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(r.bin, args...)
	cmd.Env = env
	cmd.Stderr = logFile
	// Its own process group, so the task's signals do not reach it; and
	// SIGTERM if the runner dies first (rclone exits, and may leave its
	// mount dead: see Sweep).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.WaitDelay = killGrace
	started := make(chan error, 1)
	go func() {
		// The kernel sends Pdeathsig when the thread that started the
		// child exits, not the process: this thread lives until rclone
		// has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		mt.waitErr = cmd.Wait()
		close(mt.exited)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(cacheDir)
		return nil, fmt.Errorf("starting rclone: %w", err)
	}
	mt.cmd = cmd
	go mt.follow(logPath)
	if err := mt.waitMounted(ctx); err != nil {
		mt.stop()
		os.RemoveAll(cacheDir)
		return nil, err
	}
	log("file mount %s: rclone (pid %d) mounted %s in %s", point, cmd.Process.Pid, mt.url, time.Since(mt.start).Round(time.Millisecond))
	return mt, nil
}

func (mt *mount) onStderr(line string) {
	const serving = "Serving remote control on "
	i := strings.Index(line, serving)
	if i < 0 {
		mt.log("file mount %s: rclone: %s", mt.path, line)
		return
	}
	if mt.cached {
		mt.rcMu.Lock()
		defer mt.rcMu.Unlock()
		if mt.rcURL == "" {
			mt.rcURL = strings.TrimSpace(line[i+len(serving):])
			close(mt.rcSeen)
		}
	}
}

// follow hands what rclone logs to mt.stderr until rclone has exited.
func (mt *mount) follow(path string) {
	defer close(mt.logDone)
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 32*1024)
	drain := func() {
		for {
			n, err := f.Read(buf)
			if n > 0 {
				mt.stderr.Write(buf[:n])
			}
			if err != nil || n == 0 {
				return
			}
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		drain()
		select {
		case <-mt.exited:
			drain()
			return
		case <-tick.C:
		}
	}
}

// waitMounted waits until mt.path is an rclone mount, and for a
// MOUNT_CACHED mount until its remote control answers.
func (mt *mount) waitMounted(ctx context.Context) error {
	timeout := time.NewTimer(mountStartTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(mountPoll)
	defer tick.Stop()
	for {
		e, ok, err := mountAt(mt.path)
		if err != nil {
			return err
		}
		if ok && e.fstype == rcloneFSType {
			break
		}
		select {
		case <-mt.exited:
			return mt.exitError("exited before mounting")
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return mt.exitError(fmt.Sprintf("not mounted after %s", mountStartTimeout))
		case <-tick.C:
		}
	}
	if !mt.cached {
		return nil
	}
	select {
	case <-mt.rcSeen:
		return nil
	case <-mt.exited:
		return mt.exitError("exited before its remote control started")
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout.C:
		return mt.exitError("remote control not started: Unmount could not tell when writes are uploaded")
	}
}

// exitError describes rclone's failure with its last stderr lines.
func (mt *mount) exitError(what string) error {
	exit := -1
	err := errors.New(what)
	select {
	case <-mt.exited:
		<-mt.logDone
		var ee *exec.ExitError
		if errors.As(mt.waitErr, &ee) && ee.Exited() {
			exit = ee.ExitCode()
		}
		if mt.waitErr != nil {
			err = fmt.Errorf("%s: %w", what, mt.waitErr)
		}
	default:
	}
	return &RcloneError{Command: "mount", Exit: exit, Stderr: mt.stderr.lines(), Err: err}
}

// end unmounts mt (see Mounts.Unmount).
func (mt *mount) end(ctx context.Context) error {
	if mt.linkTo != "" {
		if target, err := os.Readlink(mt.path); err == nil && target == mt.linkTo {
			if err := os.Remove(mt.path); err != nil {
				return mt.wrap(err)
			}
		}
		return nil
	}
	var errs []error
	flushed := true
	if mt.cached {
		if err := mt.flush(ctx); err != nil {
			errs = append(errs, err)
			flushed = false
		}
	}
	if err := mt.stop(); err != nil {
		errs = append(errs, err)
	}
	if flushed {
		os.RemoveAll(mt.cacheDir)
	} else {
		errs = append(errs, fmt.Errorf("rclone's cache, with the writes not uploaded, is kept in %s", mt.cacheDir))
	}
	if len(errs) > 0 {
		return mt.wrap(errors.Join(errs...))
	}
	mt.log("file mount %s: unmounted", mt.path)
	return nil
}

// stop unmounts mt.path and makes sure rclone has exited.
func (mt *mount) stop() error {
	var errs []error
	grace := exitGrace
	if mounted(mt.path) {
		if err := fusermount(mt.path, false); err != nil {
			// Busy: a process still holds a file or a directory there.
			// rclone serves it until it lets go, so wait less for it.
			mt.log("file mount %s: %v; unmounting lazily", mt.path, err)
			grace = lazyExitGrace
			if err := fusermount(mt.path, true); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// rclone exits once its mount is gone; one that lingers is stopped.
	if !closedWithin(mt.exited, grace) {
		pgid := mt.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		if !closedWithin(mt.exited, killGrace) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-mt.exited
		}
	}
	// An rclone that died leaves its mount behind, dead.
	if mounted(mt.path) {
		if err := fusermount(mt.path, true); err != nil {
			errs = append(errs, err)
		}
	}
	if mounted(mt.path) {
		errs = append(errs, errors.New("still mounted"))
	}
	return errors.Join(errs...)
}

// vfsStats is the part of rclone's vfs/stats answer Unmount reads.
type vfsStats struct {
	DiskCache struct {
		UploadsInProgress int `json:"uploadsInProgress"`
		UploadsQueued     int `json:"uploadsQueued"`
		ErroredFiles      int `json:"erroredFiles"`
	} `json:"diskCache"`
}

// flush waits until rclone has uploaded every written file, or ctx ends.
// rclone's remote control tells the uploads in progress and queued; but
// a file is queued only once the kernel has told rclone it was released,
// which it does after close(2) has returned. So flush first lets rclone
// settle, and counts as well the files rclone's cache marks dirty (those
// still open, too).
func (mt *mount) flush(ctx context.Context) error {
	start := time.Now()
	select {
	case <-time.After(flushSettle):
	case <-ctx.Done():
	}
	tick := time.NewTicker(flushPoll)
	defer tick.Stop()
	var last vfsStats
	var lastErr error
	var dirty []string
	for {
		st, err := mt.stats(ctx)
		dirty = dirtyFiles(filepath.Join(mt.cacheDir, "vfsMeta"))
		if err == nil && st.DiskCache.UploadsInProgress+st.DiskCache.UploadsQueued == 0 && len(dirty) == 0 {
			mt.log("file mount %s: writes uploaded (waited %s)", mt.path, time.Since(start).Round(time.Millisecond))
			return nil
		}
		last, lastErr = st, err
		select {
		case <-mt.exited:
			return fmt.Errorf("writes may be lost: %w", mt.exitError("rclone exited before Unmount"))
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("writes may be lost: cannot ask rclone about its uploads (%v) before %w", lastErr, ctx.Err())
			}
			d := last.DiskCache
			if len(dirty) > 5 {
				dirty = append(dirty[:5], "...")
			}
			return fmt.Errorf("writes lost: %d uploads in progress and %d queued (%d files failed to upload), not uploaded: %s, after %s: %w",
				d.UploadsInProgress, d.UploadsQueued, d.ErroredFiles, strings.Join(dirty, ", "), time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-tick.C:
		}
	}
}

// dirtyFiles lists the files rclone's VFS cache metadata (under meta,
// one JSON document a file) marks as written but not uploaded.
func dirtyFiles(meta string) []string {
	var dirty []string
	filepath.WalkDir(meta, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var item struct{ Dirty bool }
		if json.Unmarshal(data, &item) == nil && item.Dirty {
			rel, _ := filepath.Rel(meta, p)
			dirty = append(dirty, rel)
		}
		return nil
	})
	return dirty
}

// stats asks rclone's remote control for vfs/stats.
func (mt *mount) stats(ctx context.Context) (vfsStats, error) {
	var st vfsStats
	mt.rcMu.Lock()
	base := mt.rcURL
	mt.rcMu.Unlock()
	if base == "" {
		return st, errors.New("rclone's remote control address is unknown")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/vfs/stats", nil)
	if err != nil {
		return st, err
	}
	req.SetBasicAuth(mt.rcUser, mt.rcPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("vfs/stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// mounted reports whether an rclone mount is at point.
func mounted(point string) bool {
	e, ok, err := mountAt(point)
	return err == nil && ok && e.fstype == rcloneFSType
}

// fusermount unmounts point with fusermount3, else fusermount; lazily
// (-z) if lazy, and then, as root, with umount2(MNT_DETACH) if neither
// worked.
func fusermount(point string, lazy bool) error {
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	var failed []string
	for _, name := range []string{"fusermount3", "fusermount"} {
		bin, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(bin, append(args, point)...).CombinedOutput()
		if err == nil {
			return nil
		}
		failed = append(failed, fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out))))
	}
	if lazy {
		err := syscall.Unmount(point, syscall.MNT_DETACH)
		if err == nil {
			return nil
		}
		failed = append(failed, fmt.Sprintf("umount2(MNT_DETACH): %v", err))
	}
	if len(failed) == 0 {
		return errors.New("neither fusermount3 nor fusermount is on PATH")
	}
	return errors.New(strings.Join(failed, "; "))
}

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Sweep ends what a runner killed before it could Unmount (SIGKILL) left
// at paths, the mount points MountPaths gives: it unmounts any rclone
// mount there (lazily if it is busy or dead), stops any rclone mount
// process still serving one of them (found by the SKYNOMAD_MOUNT=<path>
// marker in its environment: SIGTERM, then SIGKILL), and unmounts lazily
// what that left. Paths holding no rclone mount are left alone. An engine
// calls it when an attempt ends, never while another runner uses the
// same paths; a runner's Fetch ends a dead mount at its paths by itself.
func Sweep(paths []string) error {
	var errs []error
	for _, p := range paths {
		point := realPath(p)
		// Unmounted, a live rclone exits by itself.
		if mounted(point) && fusermount(point, false) != nil {
			fusermount(point, true)
		}
		for _, pid := range markedProcesses(point) {
			if !processGone(pid, killGrace) {
				stopProcess(pid)
			}
		}
		// rclone 1.60 may exit on SIGTERM without unmounting.
		if mounted(point) {
			if err := fusermount(point, true); err != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", point, err))
			}
		}
	}
	return errors.Join(errs...)
}

// MountPaths returns where Fetch(f, o) mounts buckets: the paths to Sweep.
func MountPaths(f Files, o Options) ([]string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range f.Buckets {
		if mode := bucketMode(b.Mode); mode != ModeMount && mode != ModeMountCached {
			continue
		}
		p, err := resolvePath(b.Path, o.Workdir, o.Home)
		if err != nil {
			return nil, fmt.Errorf("file mount %q: %w", b.Path, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// markedProcesses lists the processes whose environment carries the
// mount marker for point.
func markedProcesses(point string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(markerEnv + "=" + point)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == string(marker) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// stopProcess ends pid: SIGTERM (rclone unmounts, then exits), then
// SIGKILL.
func stopProcess(pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	if processGone(pid, killGrace) {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	processGone(pid, killGrace)
}

// processGone waits up to d for pid to be gone (or a zombie).
func processGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !processAlive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processAlive reports whether pid runs (a zombie does not).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}
