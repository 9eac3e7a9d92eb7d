package node

import (
	"bufio"
	"os"
	"strings"

	"github.com/skynomad/skynomad/internal/mountinfo"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point  string // the mount point, unescaped
	fstype string // "fuse.rclone" for rclone mount
	source string // rclone: the remote, "skynomads3:bucket/path"
}

// rcloneFSType is the filesystem type rclone mount registers.
const rcloneFSType = "fuse.rclone"

const mountinfoPath = "/proc/self/mountinfo"

// readMounts lists the mounts this process sees.
func readMounts() ([]mountEntry, error) {
	f, err := os.Open(mountinfoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if e, ok := parseMountinfoLine(sc.Text()); ok {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// parseMountinfoLine reads "id parent maj:min root point opts [tags] - fstype source superopts".
func parseMountinfoLine(line string) (mountEntry, bool) {
	left, right, ok := strings.Cut(line, " - ")
	if !ok {
		return mountEntry{}, false
	}
	lf := strings.Fields(left)
	rf := strings.Fields(right)
	if len(lf) < 5 || len(rf) < 2 {
		return mountEntry{}, false
	}
	return mountEntry{point: mountinfo.Unescape(lf[4]), fstype: rf[0], source: mountinfo.Unescape(rf[1])}, true
}

// mountAt returns the mount at point, if any (the last, if stacked).
func mountAt(point string) (mountEntry, bool, error) {
	ms, err := readMounts()
	if err != nil {
		return mountEntry{}, false, err
	}
	var found mountEntry
	ok := false
	for _, m := range ms {
		if m.point == point {
			found, ok = m, true
		}
	}
	return found, ok, nil
}
