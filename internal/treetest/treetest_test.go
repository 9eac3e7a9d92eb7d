package treetest_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/skynomad/skynomad/internal/treetest"
)

func TestWrite(t *testing.T) {
	// Not parallel: it sets the umask of the process.
	defer syscall.Umask(syscall.Umask(0o077))
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{"a.txt": "a", "sub/deep/run.sh": "#!/bin/sh\n"}, map[string]fs.FileMode{"sub/deep/run.sh": 0o755})
	for rel, want := range map[string]struct {
		content string
		mode    fs.FileMode
	}{
		"a.txt":           {"a", 0o644},
		"sub/deep/run.sh": {"#!/bin/sh\n", 0o755},
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want.content {
			t.Errorf("%s holds %q, %v; want %q", rel, got, err, want.content)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want.mode {
			t.Errorf("%s's mode is %v, want %v", rel, fi.Mode().Perm(), want.mode)
		}
	}
}
