package filecopy_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/skynomad/skynomad/internal/filecopy"
)

func TestCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	syscall.Umask(old)
	if err := filecopy.Copy(src, dst, 0o750); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "content" {
		t.Errorf("dst holds %q, %v; want %q", got, err, "content")
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if want := fs.FileMode(0o750) &^ fs.FileMode(old); fi.Mode().Perm() != want {
		t.Errorf("dst's mode is %v, want %v", fi.Mode().Perm(), want)
	}
	if err := filecopy.Copy(src, dst, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Copy onto an existing file: %v, want fs.ErrExist", err)
	}
	if err := filecopy.Copy(filepath.Join(dir, "missing"), filepath.Join(dir, "new"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Copy of a missing file: %v, want fs.ErrNotExist", err)
	}
}
