package bucket

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/internal/treetest"
)

func scan(t *testing.T, p string) Tree {
	t.Helper()
	tr, err := Scan(p)
	if err != nil {
		t.Fatalf("Scan(%s): %v", p, err)
	}
	return tr
}

func rels(tr Tree) []string {
	var out []string
	for _, f := range tr.Files {
		out = append(out, f.Rel)
	}
	return out
}

func TestScanSkyignoreOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{
		".skyignore":        "*.ckpt\n/data/\n",
		".gitignore":        "*.py\n",
		"train.py":          "print()",
		"model.ckpt":        "weights",
		"data/big.bin":      "data",
		"sub/data/x":        "kept: /data/ is anchored",
		"sub/.gitignore":    "x\n",
		"sub/old.ckpt":      "weights",
		".git/info/exclude": "train.py\n",
	}, nil)
	want := []string{".gitignore", ".skyignore", "sub/.gitignore", "sub/data/x", "train.py"}
	if diff := cmp.Diff(want, rels(scan(t, dir))); diff != "" {
		t.Errorf("files with a .skyignore (-want +got):\n%s", diff)
	}
}

func TestScanGitignore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{
		".gitignore":          "*.log\n/build/\n!important.log\nlogs/\n!logs/keep\nnode_modules\n",
		".git/info/exclude":   "secret.txt\n",
		"a.py":                "a",
		"debug.log":           "noise",
		"important.log":       "kept by negation",
		"build/out.bin":       "built",
		"src/build/keep.go":   "/build/ is anchored to the root",
		"src/.gitignore":      "*.tmp\n!debug.log\n",
		"src/x.tmp":           "ignored by src/.gitignore",
		"src/debug.log":       "re-included by the deeper file",
		"x.tmp":               "src's rules do not reach up",
		"logs/keep":           "its directory is excluded: no way back",
		"node_modules/m/i.js": "gone",
		"secret.txt":          "excluded by .git/info/exclude",
		"src/secret.txt":      "so is this one",
		".git/HEAD":           "the repository itself is left out",
		"sub/.git/HEAD":       "a nested repository's is not",
	}, nil)
	want := []string{
		".gitignore", "a.py", "important.log",
		"src/.gitignore", "src/build/keep.go", "src/debug.log", "sub/.git/HEAD", "x.tmp",
	}
	if diff := cmp.Diff(want, rels(scan(t, dir))); diff != "" {
		t.Errorf("files with .gitignore (-want +got):\n%s", diff)
	}
}

func TestScanSymlinksAndEmptyDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	treetest.Write(t, dir, map[string]string{"real.txt": "real"}, nil)
	treetest.Write(t, outside, map[string]string{"target.txt": "from outside", "d/f": "in a linked dir"}, nil)
	for _, l := range []struct{ target, name string }{
		{filepath.Join(outside, "target.txt"), "link.txt"},
		{filepath.Join(outside, "d"), "linkdir"},
		{filepath.Join(outside, "missing"), "broken"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr := scan(t, dir)
	if diff := cmp.Diff([]string{"link.txt", "real.txt"}, rels(tr)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256([]byte("from outside"))
	if f := tr.Files[0]; f.Size != int64(len("from outside")) || f.Sum != hex.EncodeToString(sum[:]) {
		t.Errorf("the symlinked file = %+v, want its target's size and content", f)
	}
}

func TestScanFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{"one/conf.yaml": "a: 1\n", "two/other.yaml": "a: 1\n"}, nil)
	p := filepath.Join(dir, "one/conf.yaml")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := scan(t, p)
	if tr.Dir || tr.Root != p || tr.Bytes != 5 || len(tr.Files) != 1 {
		t.Fatalf("Scan of a file = %+v", tr)
	}
	if f := tr.Files[0]; f.Rel != "" || f.Size != 5 || f.Mode != 0o600 {
		t.Errorf("its File = %+v", f)
	}
	other := filepath.Join(dir, "two/other.yaml")
	if err := os.Chmod(other, 0o600); err != nil {
		t.Fatal(err)
	}
	if h := scan(t, other).Hash; h != tr.Hash {
		t.Errorf("the same content and mode under another name hashes differently: %s, %s", h, tr.Hash)
	}
	if _, err := Scan(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("Scan of a missing path succeeded")
	}
}

func TestScanHash(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"main.go":       "package main\n",
		"lib/util.go":   "package lib\n",
		"data/x.csv":    "1,2,3\n",
		"scripts/run":   "#!/bin/sh\n",
		"docs/empty.md": "",
	}
	base := t.TempDir()
	treetest.Write(t, base, files, nil)
	tr := scan(t, base)
	if len(tr.Files) != len(files) || tr.Bytes != 13+12+6+10 {
		t.Fatalf("Scan = %d files, %d bytes", len(tr.Files), tr.Bytes)
	}

	// An identical copy elsewhere has the same hash.
	cp := t.TempDir()
	treetest.Write(t, cp, files, nil)
	if h := scan(t, cp).Hash; h != tr.Hash {
		t.Errorf("an identical copy hashes %s, want %s", h, tr.Hash)
	}

	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
	}{
		{"a content byte", func(t *testing.T, dir string) {
			treetest.Write(t, dir, map[string]string{"data/x.csv": "1,2,4\n"}, nil)
		}},
		{"a mode", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "scripts/run"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"a rename", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "lib/util.go"), filepath.Join(dir, "lib/utils.go")); err != nil {
				t.Fatal(err)
			}
		}},
		{"a move across directories", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "docs/empty.md"), filepath.Join(dir, "data/empty.md")); err != nil {
				t.Fatal(err)
			}
		}},
		{"a new empty file", func(t *testing.T, dir string) {
			treetest.Write(t, dir, map[string]string{"new": ""}, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			treetest.Write(t, dir, files, nil)
			tc.change(t, dir)
			if h := scan(t, dir).Hash; h == tr.Hash {
				t.Errorf("the hash did not change: %s", h)
			}
		})
	}
}
