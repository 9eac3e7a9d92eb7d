// Package filecopy copies one regular file's content to a new file: what
// the local engine does for a job's local sources and what a node does
// for a COPY from a file:// store.
package filecopy

import (
	"io"
	"io/fs"
	"os"
)

// Copy copies the content of the file at src to dst, which it creates
// with perm (before the umask); it fails if dst exists.
func Copy(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
