package local

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// notifier wakes an attempt's watcher when a file changes in one of its
// node sandboxes: the runner writes its phase and its results by renaming
// a new file into place, which inotify reports as IN_MOVED_TO. Together
// with the exit of the runners this engine started, it turns phase changes
// and ends into events within a millisecond or so instead of a polling
// period. Without inotify (an old kernel, a watch limit reached) watchers
// fall back to polling.
type notifier struct {
	f *os.File

	mu      sync.Mutex
	wakes   map[int32]func() // watch descriptor → what to wake
	byPath  map[string]int32
	stopped bool
}

// watchMask is what a node directory is watched for: a file renamed into
// place (the runner writes its phase, results and process groups so).
const watchMask = unix.IN_MOVED_TO

// newNotifier starts the engine's inotify reader; it returns nil when
// inotify cannot be used here.
func newNotifier() *notifier {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	n := &notifier{f: os.NewFile(uintptr(fd), "inotify"), wakes: map[int32]func(){}, byPath: map[string]int32{}}
	go n.read()
	return n
}

// watch wakes wake whenever a file changes in dir. It reports whether the
// watch is in place (false: the caller must poll).
func (n *notifier) watch(dir string, wake func()) bool {
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return false
	}
	wd, err := unix.InotifyAddWatch(int(n.f.Fd()), dir, watchMask)
	if err != nil {
		return false
	}
	n.wakes[int32(wd)] = wake
	n.byPath[dir] = int32(wd)
	return true
}

// forget stops watching dir.
func (n *notifier) forget(dir string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if wd, ok := n.byPath[dir]; ok {
		delete(n.byPath, dir)
		delete(n.wakes, wd)
		if !n.stopped {
			unix.InotifyRmWatch(int(n.f.Fd()), uint32(wd))
		}
	}
}

// close stops the reader.
func (n *notifier) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	n.f.Close()
}

// read delivers events until the notifier is closed.
func (n *notifier) read() {
	buf := make([]byte, 64<<10)
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		var woken []func()
		n.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			off += unix.SizeofInotifyEvent + nameLen
			if mask&unix.IN_IGNORED != 0 { // the directory is gone
				for p, w := range n.byPath {
					if w == wd {
						delete(n.byPath, p)
					}
				}
				delete(n.wakes, wd)
				continue
			}
			if wake := n.wakes[wd]; wake != nil {
				woken = append(woken, wake)
			}
		}
		n.mu.Unlock()
		for _, w := range woken {
			w()
		}
	}
}
