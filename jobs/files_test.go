package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// withFiles gives the controller a job-files bucket: temporary buckets
// under dir/files, records in its store.
func withFiles(dir string) func(*Config) {
	return func(c *Config) {
		m, err := bucket.NewManager(bucket.Config{
			Temp: "file://" + filepath.Join(dir, "files"), LocalBuckets: filepath.Join(dir, "buckets"),
			Records: c.Store.BucketRecords(), Owner: "test:" + dir,
		})
		if err != nil {
			panic(err)
		}
		c.Files = m
	}
}

// workdirTask is a task whose workdir holds one file.
func workdirTask(t *testing.T, name string, mod ...func(*task.Task)) (task.DAG, string) {
	t.Helper()
	wd := t.TempDir()
	if err := os.WriteFile(filepath.Join(wd, "train.py"), []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod = append([]func(*task.Task){func(tk *task.Task) { tk.Workdir = &task.Workdir{Path: wd} }}, mod...)
	return oneTask(name, mod...), wd
}

// records lists the harness's job-files records.
func (h *harness) records() []bucket.Versioned {
	h.t.Helper()
	recs, err := h.store.BucketRecords().List(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// A job's workdir is uploaded once, before its first attempt; every
// attempt fetches the same upload; when the job ends, its files and its
// temporary bucket are gone and its record says so.
func TestFilesUploadedOnceAndRemovedAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, withFiles(dir))
	h.eng.SetScript(byAttempt(exitWith(engine.PhaseRun, 3), enginetest.Succeed))
	dag, _ := workdirTask(t, "train", withRecovery(task.JobRecovery{Strategy: task.StrategyEagerNextRegion, MaxRestartsOnErrors: 1}))
	id := h.submit(dag)
	if j := h.waitTerminal(id); j.Status != api.StatusSucceeded {
		t.Fatalf("job ended %s, want SUCCEEDED", j.Status)
	}
	launches := h.launchesOf(id)
	if len(launches) != 2 {
		t.Fatalf("%d launches, want 2", len(launches))
	}
	for _, a := range launches {
		if !strings.HasPrefix(a.Files.Workdir, "job-") || !strings.HasSuffix(a.Files.Workdir, "/workdir") ||
			a.Files.Workdir != launches[0].Files.Workdir || a.Files.Store != launches[0].Files.Store {
			t.Fatalf("attempt %d fetches %+v, want the first upload's workdir", a.Ref.Attempt, a.Files)
		}
	}
	h.waitRecords("the job's files gone", func(recs []bucket.Versioned) bool {
		return len(recs) == 1 && recs[0].State == bucket.StateGone
	})
	if rec := h.records()[0]; rec.Files != 1 || !rec.Temporary || rec.Job != id {
		t.Errorf("record %+v: want 1 file of job %d in a temporary bucket", rec.Record, id)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "files")); len(left) != 0 {
		t.Errorf("the temporary bucket is still there: %v", left)
	}
}

// A workdir that vanished after submission fails the job before any
// attempt, and nothing stays in the bucket.
func TestUploadFailureFailsPrechecks(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, withFiles(dir))
	dag, wd := workdirTask(t, "gone")
	os.RemoveAll(wd)
	id := h.submit(dag)
	j := h.waitTerminal(id)
	if j.Status != api.StatusFailedPrechecks || !strings.Contains(j.FailureReason, "uploading the job's files failed") {
		t.Fatalf("job ended %s (%q), want FAILED_PRECHECKS naming the upload", j.Status, j.FailureReason)
	}
	if n := len(h.launchesOf(id)); n != 0 {
		t.Errorf("%d launches, want none", n)
	}
	h.waitRecords("the failed upload cleaned", func(recs []bucket.Versioned) bool {
		return len(recs) == 1 && recs[0].State == bucket.StateGone
	})
}

// At start, the controller removes the files of a job that is not
// running any more (a crash after it ended, before its files went).
func TestStartRemovesFilesOfEndedJobs(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, withFiles(dir))
	orphan := filepath.Join(dir, "files", "skynomad-99-x", "job-99-x", "workdir")
	if err := os.MkdirAll(orphan, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(orphan, "a.txt"), []byte("a"), 0o644)
	rec := bucket.Record{Name: "job-99-x", Job: 99, Store: "file://" + filepath.Join(dir, "files", "skynomad-99-x"),
		Temporary: true, Owner: "test:" + dir, State: bucket.StateReady}
	if _, err := h.store.BucketRecords().Put(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
	h.ctl.Stop()
	h.start()
	h.waitRecords("the ended job's files gone", func(recs []bucket.Versioned) bool {
		return len(recs) == 1 && recs[0].State == bucket.StateGone
	})
	if _, err := os.Stat(filepath.Join(dir, "files", "skynomad-99-x")); !os.IsNotExist(err) {
		t.Errorf("the temporary bucket of the ended job is still there (%v)", err)
	}
}

// waitRecords waits until the records satisfy ok.
func (h *harness) waitRecords(what string, ok func([]bucket.Versioned) bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !ok(h.records()) {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not after %s; records: %+v", what, waitTimeout, h.records())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
