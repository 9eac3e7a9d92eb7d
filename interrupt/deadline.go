package interrupt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skynomad/skynomad/driver"
)

// DeadlineFileRel is where the preemption deadline of an allocation is
// written, relative to the allocation directory (the client's
// <data_dir>/alloc/<alloc-id>): the runner's notice file in the shared
// alloc/ dir, which tasks see under $NOMAD_ALLOC_DIR.
const DeadlineFileRel = "alloc/" + driver.AllocNoticeFile

// DeadlineFilePath is the deadline file of allocation allocID under a
// Nomad client's allocation root (<data_dir>/alloc).
func DeadlineFilePath(allocRoot, allocID string) string {
	return filepath.Join(allocRoot, allocID, filepath.FromSlash(DeadlineFileRel))
}

// ReadDeadlineFile reads a deadline file. ok is false when there is none.
func ReadDeadlineFile(path string) (deadline time.Time, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read deadline file: %w", err)
	}
	t, err := ParseDeadline(string(b))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("deadline file %s: %w", path, err)
	}
	return t, true, nil
}

// ParseDeadline parses a deadline file's content: one RFC3339 timestamp
// (fractional seconds allowed), surrounding white space ignored.
func ParseDeadline(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC3339 time: %w", err)
	}
	return t, nil
}

// errNoAllocDir says the allocation's directory is not on this host (a
// wrong --alloc-root, or the allocation is gone).
var errNoAllocDir = errors.New("allocation directory not found")

// writeDeadlineFile writes deadline to the allocation's deadline file
// unless the file already holds the same or an earlier deadline. It writes
// a temporary file and renames it, so a reader never sees half a line.
// It reports whether it wrote.
func writeDeadlineFile(allocRoot, allocID string, deadline time.Time) (bool, error) {
	shared := filepath.Join(allocRoot, allocID, "alloc")
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		return false, fmt.Errorf("%s: %w", shared, errNoAllocDir)
	}
	path := DeadlineFilePath(allocRoot, allocID)
	if old, ok, err := ReadDeadlineFile(path); err == nil && ok && !old.After(deadline) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".preemption-deadline-*")
	if err != nil {
		return false, fmt.Errorf("write deadline file: %w", err)
	}
	_, werr := tmp.WriteString(deadline.UTC().Format(time.RFC3339Nano) + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return false, fmt.Errorf("write deadline file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return false, fmt.Errorf("write deadline file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return false, fmt.Errorf("write deadline file: %w", err)
	}
	return true, nil
}
