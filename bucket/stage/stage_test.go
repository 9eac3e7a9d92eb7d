package stage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// archive builds a gzipped tar of the given headers (with bodies).
func archive(t *testing.T, entries ...tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		body := "x"
		h.Size = int64(len(body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
			body = ""
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return &b
}

// What a client sends never lands outside its stage directory, and
// nothing but regular files is written.
func TestUnpackRefusesWhatPackNeverWrites(t *testing.T) {
	root := t.TempDir()
	for name, h := range map[string]tar.Header{
		"parent":    {Typeflag: tar.TypeReg, Name: "data/../../escape", Mode: 0o644},
		"absolute":  {Typeflag: tar.TypeReg, Name: "/etc/escape", Mode: 0o644},
		"elsewhere": {Typeflag: tar.TypeReg, Name: "other/file", Mode: 0o644},
		"symlink":   {Typeflag: tar.TypeSymlink, Name: "data/link", Linkname: "/etc/passwd"},
	} {
		if _, err := Unpack(archive(t, h), root); err == nil || !strings.Contains(err.Error(), "unexpected entry") {
			t.Errorf("%s: Unpack = %v, want refused", name, err)
		}
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("refused archives left %d stage dir(s)", len(left))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); err == nil {
		t.Error("a file was written outside the staging root")
	}
}

// A single file, and an empty tree, stage as what they are.
func TestPackUnpackFileAndEmptyTree(t *testing.T) {
	src := t.TempDir()
	file := filepath.Join(src, "in.csv")
	os.WriteFile(file, []byte("a,b\n"), 0o600)
	empty := filepath.Join(src, "empty")
	os.Mkdir(empty, 0o755)
	root := t.TempDir()
	for p, check := range map[string]func(string) bool{
		file: func(got string) bool {
			b, err := os.ReadFile(got)
			fi, _ := os.Stat(got)
			return err == nil && string(b) == "a,b\n" && fi.Mode().Perm() == 0o600
		},
		empty: func(got string) bool { fi, err := os.Stat(got); return err == nil && fi.IsDir() },
	} {
		var b bytes.Buffer
		if err := Pack(&b, p); err != nil {
			t.Fatal(err)
		}
		got, err := Unpack(&b, root)
		if err != nil || !check(got) {
			t.Errorf("%s staged at %s (%v): not the same", p, got, err)
		}
		if dir, ok := Owns(root, got); !ok || filepath.Dir(got) != dir {
			t.Errorf("Owns(%s) = %s, %v", got, dir, ok)
		}
	}
	if _, ok := Owns(root, src); ok {
		t.Error("Owns claims a path outside the staging root")
	}
}

// Sweep removes old stage dirs nobody keeps, and only those.
func TestSweep(t *testing.T) {
	root := t.TempDir()
	old, kept, young := filepath.Join(root, "old"), filepath.Join(root, "kept"), filepath.Join(root, "young")
	for _, d := range []string{old, kept, young} {
		os.MkdirAll(filepath.Join(d, "data"), 0o755)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(kept, past, past)
	if err := Sweep(root, time.Hour, func(dir string) bool { return dir == kept }); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{old: false, kept: true, young: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
