// Package storetest is the conformance suite every bucket.Store must pass,
// run by the tests of each store against its backend (a directory,
// gofakes3, fake-gcs-server). It is for tests only.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/internal/treetest"
)

// Backend opens stores of one kind against its test server.
type Backend struct {
	// NewURL returns the URL of a bucket that does not exist yet, with the
	// given key prefix (always "" when Prefixes is false).
	NewURL func(t *testing.T, prefix string) bucket.URL
	// Open opens the store of u.
	Open func(t *testing.T, u bucket.URL) bucket.Store
	// Prefixes is true if the store's URLs may have a prefix.
	Prefixes bool
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	t.Run("Ensure", func(t *testing.T) { t.Parallel(); testEnsure(t, b) })
	t.Run("Objects", func(t *testing.T) { t.Parallel(); testObjects(t, b) })
	t.Run("Prefix", func(t *testing.T) {
		if !b.Prefixes {
			t.Skip("this store's URLs have no prefix")
		}
		t.Parallel()
		testPrefix(t, b)
	})
	t.Run("DeletePrefix", func(t *testing.T) { t.Parallel(); testDeletePrefix(t, b) })
	t.Run("UploadTree", func(t *testing.T) { t.Parallel(); testUploadTree(t, b) })
	t.Run("UploadFile", func(t *testing.T) { t.Parallel(); testUploadFile(t, b) })
	t.Run("UploadToRoot", func(t *testing.T) { t.Parallel(); testUploadToRoot(t, b) })
}

// Denied checks s, whose server refuses every request as the cloud does
// credentials without the permission (403): every operation fails with
// ErrDenied, and its error names the store and says what to do.
func Denied(t *testing.T, s bucket.Store) {
	t.Helper()
	ctx := context.Background()
	for name, op := range map[string]func() error{
		"Ensure": func() error { _, err := s.Ensure(ctx, true); return err },
		"Put":    func() error { return s.Put(ctx, "k", strings.NewReader("x"), 1) },
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"List":   func() error { _, err := s.List(ctx, ""); return err },
		"Copy":   func() error { return s.Copy(ctx, "a", "b") },
		"Delete": func() error { return s.Delete(ctx, []string{"k"}) },
	} {
		err := op()
		if testing.Verbose() {
			t.Log(err)
		}
		if !errors.Is(err, bucket.ErrDenied) {
			t.Errorf("%s on a 403: %v, want ErrDenied", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, s.URL().String()) || !strings.Contains(msg, "credentials") {
			t.Errorf("%s's error %q does not name the store or say what to do", name, msg)
		}
	}
}

// FromEnv checks the store of raw as bucket.Open finds it from the
// environment, which the caller points at its test server: Ensure creates
// the bucket, and an object put in it comes back from Get and from List.
func FromEnv(t *testing.T, raw string) {
	t.Helper()
	ctx := context.Background()
	u, err := bucket.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bucket.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if created, err := s.Ensure(ctx, true); err != nil || !created {
		t.Fatalf("Ensure(true) = %v, %v", created, err)
	}
	put(t, s, "job-1/a", "hello")
	if got := get(t, s, "job-1/a"); got != "hello" {
		t.Errorf("Get = %q, want %q", got, "hello")
	}
	if objs, err := s.List(ctx, ""); err != nil || len(objs) != 1 || objs[0].Key != "job-1/a" {
		t.Errorf("List = %v, %v; want job-1/a alone", objs, err)
	}
}

// newStore opens a store on a new, existing bucket.
func newStore(t *testing.T, b Backend, prefix string) bucket.Store {
	t.Helper()
	s := b.Open(t, b.NewURL(t, prefix))
	if _, err := s.Ensure(context.Background(), true); err != nil {
		t.Fatalf("Ensure(create): %v", err)
	}
	return s
}

func testEnsure(t *testing.T, b Backend) {
	ctx := context.Background()
	u := b.NewURL(t, "")
	s := b.Open(t, u)
	if s.URL() != u {
		t.Errorf("URL() = %v, want %v", s.URL(), u)
	}
	_, err := s.Ensure(ctx, false)
	if !errors.Is(err, bucket.ErrNoBucket) {
		t.Fatalf("Ensure(false) on a missing bucket: %v, want ErrNoBucket", err)
	}
	if !strings.Contains(err.Error(), u.String()) {
		t.Errorf("Ensure's error %q does not name %s", err, u)
	}
	if err := s.Put(ctx, "k", strings.NewReader("x"), 1); !errors.Is(err, bucket.ErrNoBucket) {
		t.Errorf("Put in a missing bucket: %v, want ErrNoBucket", err)
	}
	if _, err := s.List(ctx, ""); !errors.Is(err, bucket.ErrNoBucket) {
		t.Errorf("List of a missing bucket: %v, want ErrNoBucket", err)
	}
	if err := s.DeleteBucket(ctx); !errors.Is(err, bucket.ErrNoBucket) {
		t.Errorf("DeleteBucket of a missing bucket: %v, want ErrNoBucket", err)
	}
	for i, want := range []bool{true, false} {
		created, err := s.Ensure(ctx, true)
		if err != nil || created != want {
			t.Fatalf("Ensure(true) #%d = %v, %v; want %v, nil", i+1, created, err, want)
		}
	}
	if created, err := s.Ensure(ctx, false); err != nil || created {
		t.Errorf("Ensure(false) on an existing bucket = %v, %v; want false, nil", created, err)
	}
	if objs, err := s.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Errorf("List of a new bucket = %v, %v; want none", objs, err)
	}
}

func testObjects(t *testing.T, b Backend) {
	ctx := context.Background()
	s := newStore(t, b, "")
	content := map[string]string{
		"a/1":                "one",
		"a/2/x":              "two x",
		"a-b":                "a dash b",
		"ab/c":               "",
		"b":                  "bee",
		"sp ace/plus+sign/é": "odd names",
	}
	for k, v := range content {
		put(t, s, k, v)
	}
	for k, v := range content {
		if got := get(t, s, k); got != v {
			t.Errorf("Get(%q) = %q, want %q", k, got, v)
		}
	}
	if _, err := s.Get(ctx, "a/3"); !errors.Is(err, bucket.ErrNotFound) {
		t.Errorf("Get of a missing key: %v, want ErrNotFound", err)
	}
	put(t, s, "b", "replaced")
	if got := get(t, s, "b"); got != "replaced" {
		t.Errorf("Get after a second Put = %q, want %q", got, "replaced")
	}

	for _, tc := range []struct {
		prefix string
		want   []bucket.Object
	}{
		{"", []bucket.Object{o("a-b", 8), o("a/1", 3), o("a/2/x", 5), o("ab/c", 0), o("b", 8), o("sp ace/plus+sign/é", 9)}},
		{"a", []bucket.Object{o("a-b", 8), o("a/1", 3), o("a/2/x", 5), o("ab/c", 0)}},
		{"a/", []bucket.Object{o("a/1", 3), o("a/2/x", 5)}},
		{"a/2", []bucket.Object{o("a/2/x", 5)}},
		{"c", nil},
		{"a/2/x/", nil},
	} {
		if diff := cmp.Diff(tc.want, list(t, s, tc.prefix), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
		}
	}

	// Copy makes an independent object.
	if err := s.Copy(ctx, "a/1", "c/1"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if err := s.Copy(ctx, "sp ace/plus+sign/é", "c/é"); err != nil {
		t.Fatalf("Copy of an odd name: %v", err)
	}
	put(t, s, "a/1", "one, changed")
	if got := get(t, s, "c/1"); got != "one" {
		t.Errorf("the copy changed with its source: %q, want %q", got, "one")
	}
	if got := get(t, s, "c/é"); got != "odd names" {
		t.Errorf("the copy of an odd name: %q", got)
	}
	if err := s.Copy(ctx, "a/missing", "c/2"); !errors.Is(err, bucket.ErrNotFound) {
		t.Errorf("Copy of a missing key: %v, want ErrNotFound", err)
	}

	if err := s.Delete(ctx, []string{"a/1", "a/missing", "ab/c"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, nil); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
	want := []bucket.Object{o("a-b", 8), o("a/2/x", 5), o("b", 8), o("c/1", 3), o("c/é", 9), o("sp ace/plus+sign/é", 9)}
	if diff := cmp.Diff(want, list(t, s, "")); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	if err := s.DeleteBucket(ctx); err == nil {
		t.Errorf("DeleteBucket of a bucket with objects succeeded")
	}
	if err := bucket.DeletePrefix(ctx, s, ""); err != nil {
		t.Fatalf("DeletePrefix(\"\"): %v", err)
	}
	if err := s.DeleteBucket(ctx); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, err := s.Ensure(ctx, false); !errors.Is(err, bucket.ErrNoBucket) {
		t.Errorf("Ensure after DeleteBucket: %v, want ErrNoBucket", err)
	}
}

func testPrefix(t *testing.T, b Backend) {
	ctx := context.Background()
	u := b.NewURL(t, "team/x")
	if u.Prefix != "team/x" {
		t.Fatalf("NewURL gave prefix %q", u.Prefix)
	}
	root := u
	root.Prefix = ""
	rs := b.Open(t, root)
	if _, err := rs.Ensure(ctx, true); err != nil {
		t.Fatal(err)
	}
	ps := b.Open(t, u)
	put(t, rs, "team/xy/k", "other")
	put(t, rs, "team/x2", "other")
	put(t, ps, "job-1/k", "mine")
	if diff := cmp.Diff([]bucket.Object{o("job-1/k", 4)}, list(t, ps, "")); diff != "" {
		t.Errorf("List of the prefixed store (-want +got):\n%s", diff)
	}
	want := []bucket.Object{o("team/x/job-1/k", 4), o("team/x2", 5), o("team/xy/k", 5)}
	if diff := cmp.Diff(want, list(t, rs, "")); diff != "" {
		t.Errorf("List of the bucket (-want +got):\n%s", diff)
	}
	if err := ps.Copy(ctx, "job-1/k", "job-2/k"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, rs, "team/x/job-2/k"); got != "mine" {
		t.Errorf("the copy under the prefix = %q", got)
	}
	if err := bucket.DeletePrefix(ctx, ps, ""); err != nil {
		t.Fatal(err)
	}
	want = []bucket.Object{o("team/x2", 5), o("team/xy/k", 5)}
	if diff := cmp.Diff(want, list(t, rs, "")); diff != "" {
		t.Errorf("DeletePrefix(\"\") of the prefixed store left (-want +got):\n%s", diff)
	}
}

func testDeletePrefix(t *testing.T, b Backend) {
	ctx := context.Background()
	s := newStore(t, b, "")
	for _, k := range []string{"job-1/a", "job-1/b/c", "job-10/a", "job-1x", "job-2/a", "job-2/b"} {
		put(t, s, k, k)
	}
	for _, tc := range []struct {
		prefix string
		left   []string
	}{
		{"job-1", []string{"job-10/a", "job-1x", "job-2/a", "job-2/b"}},
		{"job-2/", []string{"job-10/a", "job-1x"}},
		{"job-3", []string{"job-10/a", "job-1x"}},
		{"job-1x", []string{"job-10/a"}},
		{"", nil},
	} {
		if err := bucket.DeletePrefix(ctx, s, tc.prefix); err != nil {
			t.Fatalf("DeletePrefix(%q): %v", tc.prefix, err)
		}
		var left []string
		for _, o := range list(t, s, "") {
			left = append(left, o.Key)
		}
		if diff := cmp.Diff(tc.left, left, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after DeletePrefix(%q) (-want +got):\n%s", tc.prefix, diff)
		}
	}
	if err := s.DeleteBucket(ctx); err != nil {
		t.Errorf("DeleteBucket after DeletePrefix(\"\"): %v", err)
	}
}

// tree writes files (rel -> content) with their modes under a new
// directory and returns it.
func tree(t *testing.T, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	treetest.Write(t, dir, files, modes)
	return dir
}

// progressLog records Progress calls and notes if two overlap (the race
// detector reports it too: calls is not locked).
type progressLog struct {
	busy, overlap atomic.Bool
	calls         []bucket.Progress
}

func (l *progressLog) record(p bucket.Progress) {
	if !l.busy.CompareAndSwap(false, true) {
		l.overlap.Store(true)
	}
	l.calls = append(l.calls, p)
	l.busy.Store(false)
}

// countingStore counts the Puts of a store, by key.
type countingStore struct {
	bucket.Store
	mu   sync.Mutex
	puts []string
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.mu.Lock()
	c.puts = append(c.puts, key)
	c.mu.Unlock()
	return c.Store.Put(ctx, key, r, size)
}

func testUploadTree(t *testing.T, b Backend) {
	ctx := context.Background()
	s := newStore(t, b, "")
	files := map[string]string{
		"README.md":        "# hello\n",
		"bin/run.sh":       "#!/bin/sh\necho run\n",
		"src/deep/main.go": "package main\n",
		"empty":            "",
	}
	dir := tree(t, files, map[string]os.FileMode{"bin/run.sh": 0o755})
	tr, err := bucket.Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	var log progressLog
	modes, err := bucket.UploadTree(ctx, s, tr, "job-1/workdir", "job-1/tmp-files/modes-workdir",
		bucket.UploadOptions{Parallel: 3, Progress: log.record})
	if err != nil {
		t.Fatalf("UploadTree: %v", err)
	}
	if modes != "job-1/tmp-files/modes-workdir" {
		t.Errorf("UploadTree returned modes key %q", modes)
	}
	checkUploaded(t, s, "job-1/workdir", files)
	if got := get(t, s, modes); !jsonEqual(got, `{"bin/run.sh": "0755"}`) {
		t.Errorf("mode list = %s", got)
	}
	wantKeys := []string{
		"job-1/tmp-files/modes-workdir",
		"job-1/workdir/README.md", "job-1/workdir/bin/run.sh", "job-1/workdir/empty", "job-1/workdir/src/deep/main.go",
	}
	if diff := cmp.Diff(wantKeys, keys(list(t, s, "job-1/"))); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	if log.overlap.Load() {
		t.Errorf("Progress was called concurrently")
	}
	if len(log.calls) != len(files) {
		t.Errorf("Progress called %d times, want %d", len(log.calls), len(files))
	}
	for i, p := range log.calls {
		if p.Files != i+1 || p.TotalFiles != len(files) || p.TotalBytes != tr.Bytes ||
			(i > 0 && p.Bytes < log.calls[i-1].Bytes) {
			t.Errorf("Progress call %d = %+v", i, p)
		}
	}
	if last := log.calls[len(log.calls)-1]; last.Bytes != tr.Bytes {
		t.Errorf("the last Progress has %d bytes, want %d", last.Bytes, tr.Bytes)
	}

	// Again, as a controller resuming after a crash does.
	if _, err := bucket.UploadTree(ctx, s, tr, "job-1/workdir", "job-1/tmp-files/modes-workdir", bucket.UploadOptions{}); err != nil {
		t.Fatalf("UploadTree again: %v", err)
	}
	if diff := cmp.Diff(wantKeys, keys(list(t, s, "job-1/"))); diff != "" {
		t.Errorf("layout after a second upload (-want +got):\n%s", diff)
	}
	checkUploaded(t, s, "job-1/workdir", files)

	// The same tree for another job: copied, nothing but the modes put.
	cs := &countingStore{Store: s}
	modes, err = bucket.UploadTree(ctx, cs, tr, "job-2/workdir", "job-2/tmp-files/modes-workdir",
		bucket.UploadOptions{Reuse: "job-1/workdir"})
	if err != nil {
		t.Fatalf("UploadTree with Reuse: %v", err)
	}
	if diff := cmp.Diff([]string{"job-2/tmp-files/modes-workdir"}, cs.puts); diff != "" {
		t.Errorf("Puts of a reused upload (-want +got):\n%s", diff)
	}
	checkUploaded(t, s, "job-2/workdir", files)
	if got := get(t, s, modes); !jsonEqual(got, `{"bin/run.sh": "0755"}`) {
		t.Errorf("mode list of the reused upload = %s", got)
	}

	// An object the reused prefix lost is uploaded.
	if err := s.Delete(ctx, []string{"job-1/workdir/README.md"}); err != nil {
		t.Fatal(err)
	}
	cs = &countingStore{Store: s}
	if _, err := bucket.UploadTree(ctx, cs, tr, "job-3/workdir", "job-3/tmp-files/modes-workdir",
		bucket.UploadOptions{Reuse: "job-1/workdir"}); err != nil {
		t.Fatalf("UploadTree with Reuse of a partial prefix: %v", err)
	}
	want := []string{"job-3/workdir/README.md", "job-3/tmp-files/modes-workdir"}
	if diff := cmp.Diff(want, cs.puts); diff != "" {
		t.Errorf("Puts of a partly reused upload (-want +got):\n%s", diff)
	}
	checkUploaded(t, s, "job-3/workdir", files)

	// A file that changed since the scan is refused.
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# changed, longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.UploadTree(ctx, s, tr, "job-4/workdir", "", bucket.UploadOptions{}); !errors.Is(err, bucket.ErrChanged) {
		t.Errorf("UploadTree of a changed file: %v, want ErrChanged", err)
	}
}

func testUploadFile(t *testing.T, b Backend) {
	ctx := context.Background()
	s := newStore(t, b, "")
	dir := tree(t, map[string]string{"secret": "s3cr3t", "plain": "plain"}, map[string]os.FileMode{"secret": 0o600})

	tr, err := bucket.Scan(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Dir || len(tr.Files) != 1 || tr.Files[0].Rel != "" {
		t.Fatalf("Scan of a file = %+v", tr)
	}
	modes, err := bucket.UploadTree(ctx, s, tr, "job-1/local-file-mounts/0", "job-1/tmp-files/modes-0", bucket.UploadOptions{})
	if err != nil {
		t.Fatalf("UploadTree of a file: %v", err)
	}
	if got := get(t, s, "job-1/local-file-mounts/0"); got != "s3cr3t" {
		t.Errorf("the file's object = %q", got)
	}
	if modes != "job-1/tmp-files/modes-0" {
		t.Fatalf("modes key = %q", modes)
	}
	if got := get(t, s, modes); !jsonEqual(got, `{"": "0600"}`) {
		t.Errorf("mode list of a 0600 file = %s", got)
	}

	tr, err = bucket.Scan(filepath.Join(dir, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	modes, err = bucket.UploadTree(ctx, s, tr, "job-1/local-file-mounts/1", "job-1/tmp-files/modes-1", bucket.UploadOptions{})
	if err != nil || modes != "" {
		t.Fatalf("UploadTree of a 0644 file = %q, %v; want no modes", modes, err)
	}
	want := []string{"job-1/local-file-mounts/0", "job-1/local-file-mounts/1", "job-1/tmp-files/modes-0"}
	if diff := cmp.Diff(want, keys(list(t, s, ""))); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	if err := bucket.DeletePrefix(ctx, s, "job-1/local-file-mounts/0"); err != nil {
		t.Fatal(err)
	}
	want = []string{"job-1/local-file-mounts/1", "job-1/tmp-files/modes-0"}
	if diff := cmp.Diff(want, keys(list(t, s, ""))); diff != "" {
		t.Errorf("DeletePrefix of a file's key left (-want +got):\n%s", diff)
	}
}

func testUploadToRoot(t *testing.T, b Backend) {
	ctx := context.Background()
	s := newStore(t, b, "")
	files := map[string]string{"data/a.csv": "1,2\n", "tool": "#!/bin/sh\n"}
	tr, err := bucket.Scan(tree(t, files, map[string]os.FileMode{"tool": 0o755}))
	if err != nil {
		t.Fatal(err)
	}
	modes, err := bucket.UploadTree(ctx, s, tr, "", "", bucket.UploadOptions{})
	if err != nil || modes != "" {
		t.Fatalf("UploadTree to the root = %q, %v; want no modes", modes, err)
	}
	if diff := cmp.Diff([]string{"data/a.csv", "tool"}, keys(list(t, s, ""))); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
}

// checkUploaded checks that the objects under key hold files.
func checkUploaded(t *testing.T, s bucket.Store, key string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		if got := get(t, s, key+"/"+rel); got != content {
			t.Errorf("%s/%s = %q, want %q", key, rel, got, content)
		}
	}
}

func put(t *testing.T, s bucket.Store, key, content string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s bucket.Store, key string) string {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return string(data)
}

func list(t *testing.T, s bucket.Store, prefix string) []bucket.Object {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return objs
}

func o(key string, size int64) bucket.Object { return bucket.Object{Key: key, Size: size} }

func keys(objs []bucket.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

func jsonEqual(got, want string) bool {
	var g, w any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return fmt.Sprint(g) == fmt.Sprint(w)
}
