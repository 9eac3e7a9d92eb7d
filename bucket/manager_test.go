package bucket

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skynomad/skynomad/task"
)

// memRecords keeps records in memory with the check-and-set of the real
// ones (consul.go, jobs/store; both pass recordstest).
type memRecords struct {
	mu   sync.Mutex
	recs map[string]Versioned
	next uint64
}

func (m *memRecords) Get(_ context.Context, name string) (Record, uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.recs[name]
	return v.Record, v.Version, ok, nil
}

func (m *memRecords) Put(_ context.Context, r Record, version uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]Versioned{}
	}
	if cur, ok := m.recs[r.Name]; ok != (version != 0) || ok && cur.Version != version {
		return 0, ErrConflict
	}
	m.next++
	m.recs[r.Name] = Versioned{Record: r, Version: m.next}
	return m.next, nil
}

func (m *memRecords) List(context.Context) ([]Versioned, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Versioned
	for _, v := range m.recs {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// countingStore counts the bytes put (not copied) into a store.
type countingStore struct {
	Store
	put *atomic.Int64
}

func (c countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.put.Add(size)
	return c.Store.Put(ctx, key, r, size)
}

// newManager is a manager over the file store root, counting what it
// uploads.
func newManager(t *testing.T, root, owner string, recs Records, put *atomic.Int64) *Manager {
	t.Helper()
	m, err := NewManager(Config{
		Bucket: "file://" + root, Records: recs, Owner: owner, LocalBuckets: filepath.Join(root, "named"),
		Open: func(ctx context.Context, u URL) (Store, error) {
			st, err := Open(ctx, u)
			return countingStore{Store: st, put: put}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func workdirJob(t *testing.T, id int64, dir string) Job {
	t.Helper()
	return Job{ID: id, Submitted: time.Unix(1700000000+id, 0), DAG: task.DAG{Name: "j", Tasks: []task.Task{{
		Name: "j", Workdir: &task.Workdir{Path: dir},
		Mounts: []task.Mount{{Dest: "/data/in.txt", Source: filepath.Join(dir, "in.txt")}},
	}}}}
}

func sourceTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A second job with the same workdir, while the first's is stored,
// copies it inside the store: nothing of the workdir is uploaded again.
// Removing the first job's files leaves the second's.
func TestUnchangedWorkdirIsNotUploadedAgain(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	recs := &memRecords{}
	m := newManager(t, root, "ctl", recs, &put)
	src := sourceTree(t, map[string]string{"train.py": "print('x')\n", "in.txt": "data\n", "big.bin": string(make([]byte, 1<<20))})
	ctx := context.Background()

	first, err := m.Upload(ctx, workdirJob(t, 1, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	firstPut := put.Swap(0)
	if first.State != StateReady || firstPut < 1<<20 {
		t.Fatalf("first upload: %s, %d bytes put", first.State, firstPut)
	}
	second, err := m.Upload(ctx, workdirJob(t, 2, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := put.Load(); got >= 1<<20 {
		t.Errorf("the unchanged workdir was uploaded again: %d bytes put", got)
	}
	if second.Units[0].Hash != first.Units[0].Hash || second.Name == first.Name {
		t.Fatalf("records: %+v vs %+v", first, second)
	}
	if err := m.Clean(ctx, first.Name); err != nil {
		t.Fatal(err)
	}
	f, err := m.NodeFiles(&second, workdirJob(t, 2, src).DAG, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, f.Workdir, "train.py"))
	if err != nil || string(b) != "print('x')\n" {
		t.Errorf("the second job's workdir after the first's cleanup: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, first.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first job's prefix is still there (%v)", err)
	}
}

// Of two controllers sharing the records, only the owner cleans a job's
// files, and of two cleanups racing, one removes and both end gone.
func TestOnlyTheOwnerCleansOnce(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	recs := &memRecords{}
	mine := newManager(t, root, "ctl-a", recs, &put)
	other := newManager(t, root, "ctl-b", recs, &put)
	src := sourceTree(t, map[string]string{"in.txt": "data\n"})
	ctx := context.Background()
	rec, err := mine.Upload(ctx, workdirJob(t, 1, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Clean(ctx, rec.Name); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _ := recs.Get(ctx, rec.Name); got.State != StateReady {
		t.Fatalf("another controller moved the record to %s", got.State)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = mine.Clean(ctx, rec.Name) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, _, _, _ := recs.Get(ctx, rec.Name)
	if got.State != StateGone && got.State != StateCleaning {
		t.Fatalf("record %s after the cleanups", got.State)
	}
	// The cleanup that lost the race returned at once; the winner's ends gone.
	if err := mine.Clean(ctx, rec.Name); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _ := recs.Get(ctx, rec.Name); got.State != StateGone {
		t.Errorf("record %s, want gone", got.State)
	}
	if _, err := os.Stat(filepath.Join(root, rec.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the prefix is still there (%v)", err)
	}
}

// An upload a crash cut short (its record still uploading) is finished
// by the next Upload of the same job, to the same prefix.
func TestUploadResumesAfterACrash(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	recs := &memRecords{}
	m := newManager(t, root, "ctl", recs, &put)
	src := sourceTree(t, map[string]string{"in.txt": "data\n", "a.txt": "a\n"})
	job := workdirJob(t, 7, src)
	ctx := context.Background()
	cut, err := m.newRecord(ctx, m.Name(job), job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recs.Put(ctx, cut, 0); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, cut.Name, "workdir"), 0o755)
	os.WriteFile(filepath.Join(root, cut.Name, "workdir", "a.txt"), []byte("half"), 0o644)
	rec, err := m.Upload(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != cut.Name || rec.State != StateReady || rec.Files != 3 {
		t.Fatalf("resumed record %+v, want %s ready with 3 files", rec, cut.Name)
	}
	if b, _ := os.ReadFile(filepath.Join(root, rec.Name, "workdir", "a.txt")); string(b) != "a\n" {
		t.Errorf("a.txt after the resumed upload: %q", b)
	}
}

// A named bucket mount with persistent: false is created before the job
// and deleted with its files; one with persistent unset stays.
func TestNonPersistentBucketGoesWithTheJob(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	recs := &memRecords{}
	m := newManager(t, root, "ctl", recs, &put)
	no := false
	job := Job{ID: 3, Submitted: time.Unix(1700000003, 0), DAG: task.DAG{Name: "j", Tasks: []task.Task{{
		Name: "j", Mounts: []task.Mount{
			{Dest: "/scratch", BucketName: "scratch", Mode: task.MountModeMount, Persistent: &no},
			{Dest: "/keep", BucketName: "keep", Mode: task.MountModeMount},
		},
	}}}}
	ctx := context.Background()
	if ps := m.Check(ctx, job.DAG); len(ps) != 0 {
		t.Fatalf("Check: %+v", ps)
	}
	for _, b := range []string{"scratch", "keep"} {
		if fi, err := os.Stat(filepath.Join(root, "named", b)); err != nil || !fi.IsDir() {
			t.Fatalf("bucket %s was not created: %v", b, err)
		}
	}
	if !NeedsRecord(job.DAG) {
		t.Fatal("a job dropping a bucket needs a record")
	}
	rec, err := m.Upload(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Clean(ctx, rec.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "named", "scratch")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the persistent: false bucket is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "named", "keep")); err != nil {
		t.Errorf("the persistent bucket went too: %v", err)
	}
}

// {name: x, source: ./dir} fills bucket x with the directory before the
// job, and the node mounts bucket x; the bucket outlives the job.
func TestNamedBucketWithALocalSource(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	m := newManager(t, root, "ctl", &memRecords{}, &put)
	src := sourceTree(t, map[string]string{"weights.bin": "w"})
	dag := task.DAG{Name: "j", Tasks: []task.Task{{Name: "j", Mounts: []task.Mount{
		{Dest: "/models", BucketName: "models", Source: src, Mode: task.MountModeMount}}}}}
	job := Job{ID: 4, Submitted: time.Unix(1700000004, 0), DAG: dag}
	ctx := context.Background()
	if ps := m.Check(ctx, dag); len(ps) != 0 {
		t.Fatalf("Check: %+v", ps)
	}
	rec, err := m.Upload(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	bucketDir := filepath.Join(root, "named", "models")
	if b, err := os.ReadFile(filepath.Join(bucketDir, "weights.bin")); err != nil || string(b) != "w" {
		t.Fatalf("bucket models holds %q (%v), want the source's weights.bin", b, err)
	}
	f, err := m.NodeFiles(&rec, dag, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Buckets) != 1 || f.Buckets[0].URL != "file://"+bucketDir || f.Buckets[0].Path != "/models" || f.Workdir != "" {
		t.Errorf("node files %+v, want bucket models mounted at /models", f)
	}
	if err := m.Clean(ctx, rec.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bucketDir, "weights.bin")); err != nil {
		t.Errorf("the job's cleanup emptied the named bucket: %v", err)
	}
}

// A store skynomad does not carry is refused on the mount, before
// anything is submitted.
func TestUnsupportedStoreIsAProblem(t *testing.T) {
	var put atomic.Int64
	m := newManager(t, t.TempDir(), "ctl", &memRecords{}, &put)
	dag := task.DAG{Name: "j", Tasks: []task.Task{{Name: "j", Mounts: []task.Mount{
		{Dest: "/data", BucketName: "d", Store: "azure", Mode: task.MountModeMount}}}}}
	ps := m.Check(context.Background(), dag)
	if len(ps) != 1 || ps[0].Mount != 0 || !strings.Contains(ps[0].Msg, "store azure is not supported") {
		t.Errorf("Check = %+v, want the mount refused naming its store", ps)
	}
}

// A `source:` list uploads each path to the bucket's root under its base
// name, a file as one object and a directory as a tree, as SkyPilot does.
func TestNamedBucketWithASourceList(t *testing.T) {
	root := t.TempDir()
	var put atomic.Int64
	m := newManager(t, root, "ctl", &memRecords{}, &put)
	dir := sourceTree(t, map[string]string{"a.txt": "a", "b.txt": "b"})
	file := filepath.Join(sourceTree(t, map[string]string{"config.yaml": "c"}), "config.yaml")
	dag := task.DAG{Name: "j", Tasks: []task.Task{{Name: "j", Mounts: []task.Mount{{
		Dest: "/inputs", BucketName: "inputs", Mode: task.MountModeCopy,
		Sources: []task.ListedSource{{Path: dir, Name: "data"}, {Path: file, Name: "config.yaml"}},
	}}}}}
	ctx := context.Background()
	if ps := m.Check(ctx, dag); len(ps) != 0 {
		t.Fatalf("Check: %+v", ps)
	}
	if !NeedsRecord(dag) {
		t.Fatal("a source list needs a record: it is uploaded")
	}
	rec, err := m.Upload(ctx, Job{ID: 5, Submitted: time.Unix(1700000005, 0), DAG: dag}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bucketDir := filepath.Join(root, "named", "inputs")
	for rel, want := range map[string]string{"data/a.txt": "a", "data/b.txt": "b", "config.yaml": "c"} {
		if b, err := os.ReadFile(filepath.Join(bucketDir, rel)); err != nil || string(b) != want {
			t.Errorf("bucket inputs holds %q at %s (%v), want %q", b, rel, err, want)
		}
	}
	if rec.Files != 3 {
		t.Errorf("record counts %d files, want 3", rec.Files)
	}
	f, err := m.NodeFiles(&rec, dag, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Buckets) != 1 || f.Buckets[0].Path != "/inputs" || f.Buckets[0].Mode != string(task.MountModeCopy) || len(f.Copies) != 0 {
		t.Errorf("node files %+v, want bucket inputs copied to /inputs", f)
	}
}
