package driver

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// WriteNotice records a preemption deadline in a notice file, as a spot
// handler (or the local engine's fault injection) does.
func WriteNotice(path string, deadline time.Time) error {
	return writeFileAtomic(path, []byte(deadline.UTC().Format(time.RFC3339Nano)+"\n"))
}

// ReadNotice reads the deadline from a notice file (RFC3339, fractional
// seconds allowed). A missing file returns an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadNotice(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("notice file %s: %w", path, err)
	}
	return t, nil
}
