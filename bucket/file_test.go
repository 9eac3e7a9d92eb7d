package bucket

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failingReader returns some bytes, then an error: a crash mid-upload.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func newFileTestStore(t *testing.T) *fileStore {
	t.Helper()
	s, err := newFileStore(URL{Scheme: "file", Bucket: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileStorePutIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newFileTestStore(t)
	if err := s.Put(ctx, "job-1/a", &failingReader{n: 100}, 1000); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "job-1", "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed Put left its key: %v", err)
	}
	if err := s.Put(ctx, "job-1/a", strings.NewReader("whole"), 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "job-1/a", &failingReader{n: 3}, 10); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	if err := s.Put(ctx, "job-1/b", strings.NewReader("short"), 10); err == nil {
		t.Error("Put of fewer bytes than its size succeeded")
	}
	r, err := s.Get(ctx, "job-1/a")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "whole" {
		t.Errorf("a failed Put over an object changed it to %q", got)
	}
	objs, err := s.List(ctx, "")
	if err != nil || len(objs) != 1 || objs[0].Key != "job-1/a" {
		t.Errorf("List after failed Puts = %v, %v; want only job-1/a", objs, err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.dir, fileTmp))
	if len(tmp) != 0 {
		t.Errorf("failed Puts left %d temporary files", len(tmp))
	}

	// A crash leaves a temporary file behind; the bucket still goes.
	if err := os.WriteFile(filepath.Join(s.dir, fileTmp, "put-crashed"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := DeletePrefix(ctx, s, "job-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket(ctx); err != nil {
		t.Errorf("DeleteBucket with a crashed Put's temporary file: %v", err)
	}
}

func TestFileStoreKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newFileTestStore(t)
	for _, k := range []string{"", "../escape", "a/../../escape", "/abs", "a//b", "a/", "./a", fileTmp + "/x"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
		if _, err := s.Get(ctx, k); err == nil {
			t.Errorf("Get(%q) succeeded", k)
		}
		if err := s.Delete(ctx, []string{k}); err == nil {
			t.Errorf("Delete(%q) succeeded", k)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.dir), "escape")); err == nil {
		t.Errorf("a key escaped the store's directory")
	}
}
