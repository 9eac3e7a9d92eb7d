// Package treetest writes directory trees for tests: the local sources,
// stores and workdirs that the bucket tests scan, upload and fetch.
package treetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Write writes files (slash-separated path relative to dir -> content)
// under dir, making the directories they need (0755). A file's mode is
// its entry in modes, else 0644, whatever the umask.
func Write(tb testing.TB, dir string, files map[string]string, modes map[string]fs.FileMode) {
	tb.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
		mode, ok := modes[rel]
		if !ok {
			mode = 0o644
		}
		if err := os.Chmod(p, mode); err != nil {
			tb.Fatal(err)
		}
	}
}
