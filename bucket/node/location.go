package node

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// location is where an object or a tree is: a local path (scheme "file")
// or a key in an S3 or GCS bucket.
type location struct {
	scheme string // "file", "s3" or "gs"
	bucket string // s3 and gs
	key    string // s3 and gs: no leading or trailing slash; file: an absolute path
}

// parseLocation reads file:///abs/dir, s3://bucket[/key] or gs://bucket[/key].
// It does not use net/url: object keys may hold '#', '?' or '%'.
func parseLocation(raw string) (location, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return location{}, fmt.Errorf("%q is not a URL: want file:///dir, s3://bucket[/path] or gs://bucket[/path]", raw)
	}
	switch scheme {
	case "file":
		rest = strings.TrimPrefix(rest, "localhost")
		if !strings.HasPrefix(rest, "/") {
			return location{}, fmt.Errorf("%q: a file URL needs an absolute path (file:///dir)", raw)
		}
		return location{scheme: "file", key: filepath.Clean(rest)}, nil
	case "s3", "gs":
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return location{}, fmt.Errorf("%q names no bucket", raw)
		}
		l := location{scheme: scheme, bucket: bucket}
		return l.join(key)
	default:
		return location{}, fmt.Errorf("%q: unsupported store %q: want file:///dir, s3://bucket[/path] or gs://bucket[/path]", raw, scheme+"://")
	}
}

// join returns the object or tree at key under l. key is slash-separated
// and may not climb out of l.
func (l location) join(key string) (location, error) {
	key = strings.Trim(key, "/")
	if key == "" {
		return l, nil
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." {
			return location{}, fmt.Errorf("key %q climbs out of %s", key, l)
		}
	}
	key = path.Clean(key)
	if l.scheme == "file" {
		l.key = filepath.Join(l.key, filepath.FromSlash(key))
		return l, nil
	}
	l.key = strings.Trim(path.Join(l.key, key), "/")
	return l, nil
}

// local reports whether l is read directly rather than through rclone.
func (l location) local() bool { return l.scheme == "file" }

// String is l as a URL, for messages.
func (l location) String() string {
	if l.scheme == "file" {
		return "file://" + l.key
	}
	if l.key == "" {
		return l.scheme + "://" + l.bucket
	}
	return l.scheme + "://" + l.bucket + "/" + l.key
}

// remote is l for rclone, on the remotes rcloneEnv configures.
func (l location) remote() string {
	name := remoteS3
	if l.scheme == "gs" {
		name = remoteGCS
	}
	if l.key == "" {
		return name + ":" + l.bucket
	}
	return name + ":" + l.bucket + "/" + l.key
}

// bucketRoot is the root of l's bucket.
func (l location) bucketRoot() location {
	l.key = ""
	return l
}

// resolvePath places a Copy or Bucket Path on this node: absolute, "~" or
// "~/..." under home, anything else under workdir.
func resolvePath(p, workdir, home string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty path")
	case p == "~" || strings.HasPrefix(p, "~/"):
		if home == "" {
			return "", fmt.Errorf("path %q: no home directory (set Options.Home or HOME)", p)
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf("path %q: ~user paths are not supported; use ~/... or an absolute path", p)
	case filepath.IsAbs(p):
		return filepath.Clean(p), nil
	default:
		return filepath.Join(workdir, p), nil
	}
}

// realPath is p with the symbolic links of its existing directories
// resolved, the way the kernel records a mount point. p's last element
// is kept as is: it may be a dead FUSE mount that cannot be examined.
func realPath(p string) string {
	p = filepath.Clean(p)
	dir, base := filepath.Split(p)
	if base == "" {
		return p
	}
	var missing []string
	for dir = filepath.Clean(dir); ; dir = filepath.Dir(dir) {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			parts := append([]string{r}, missing...)
			return filepath.Join(append(parts, base)...)
		}
		if dir == "/" || dir == "." {
			return p
		}
		missing = append([]string{filepath.Base(dir)}, missing...)
	}
}

// within reports whether p is strictly inside dir.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+string(os.PathSeparator))
}
