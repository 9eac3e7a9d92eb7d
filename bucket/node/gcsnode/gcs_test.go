// Package gcsnode_test runs bucket/node against fake-gcs-server through
// rclone's GCS backend. It is a package of its own because the fake
// server is slow to compile.
package gcsnode_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/bucket/node/internal/nodetest"
	"github.com/skynomad/skynomad/internal/gcsfake"
)

// fakeGCS is fake-gcs-server on loopback, over http.
type fakeGCS struct{ *gcsfake.Server }

func newFakeGCS(t *testing.T, buckets ...string) fakeGCS {
	t.Helper()
	return fakeGCS{gcsfake.New(t, buckets...)}
}

// env reaches the emulator as a task would: STORAGE_EMULATOR_HOST as
// host:port.
func (f fakeGCS) env(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"STORAGE_EMULATOR_HOST=" + f.Host(),
		"GOOGLE_APPLICATION_CREDENTIALS=/nonexistent/key.json",
	}
}

func (f fakeGCS) put(bucket string, objects map[string]string) {
	for k, v := range objects {
		f.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: k}, Content: []byte(v)})
	}
}

func (f fakeGCS) get(bucket, key string) (string, bool) {
	o, err := f.GetObject(bucket, key)
	if err != nil {
		return "", false
	}
	return string(o.Content), true
}

func nodeDirs(t *testing.T) (root, home, workdir string) {
	root = t.TempDir()
	home = filepath.Join(root, "home")
	workdir = filepath.Join(home, "sky_workdir")
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, home, workdir
}

func logTo(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) { t.Logf(format, args...) }
}

func TestFetchGCS(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	gcs := newFakeGCS(t, "jobs", "data")
	gcs.put("jobs", map[string]string{
		"pre/job-1/workdir/run.sh":               "echo run",
		"pre/job-1/workdir/src/x.txt":            "x",
		"pre/job-1/tmp-files/workdir-modes.json": `{"run.sh": "0755"}`,
		"pre/job-1/local-file-mounts/0":          "key: value",
	})
	gcs.put("data", map[string]string{"sub/e.txt": "e"})
	_, home, workdir := nodeDirs(t)
	f := node.Files{
		Store:        "gs://jobs/pre",
		Workdir:      "job-1/workdir",
		WorkdirModes: "job-1/tmp-files/workdir-modes.json",
		Copies:       []node.Copy{{Key: "job-1/local-file-mounts/0", Path: "~/app.yaml"}},
		Buckets:      []node.Bucket{{URL: "gs://data/sub", Mode: node.ModeCopy, Path: "data"}},
	}
	m, err := node.Fetch(context.Background(), f, node.Options{Workdir: workdir, Home: home, Env: gcs.env(home), Log: logTo(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount(context.Background())
	want := map[string]string{
		"run.sh":     "0755 echo run",
		"src/":       "0755",
		"src/x.txt":  "0644 x",
		"data/":      "0755",
		"data/e.txt": "0644 e",
	}
	if diff := cmp.Diff(want, nodetest.Tree(t, workdir)); diff != "" {
		t.Errorf("workdir (-want +got):\n%s", diff)
	}
	if got, err := os.ReadFile(filepath.Join(home, "app.yaml")); err != nil || string(got) != "key: value" {
		t.Errorf("~/app.yaml: %q, %v", got, err)
	}
}

// TestMountGCS: the checkpoint pattern with MOUNT, and a MOUNT_CACHED
// write that is in the bucket once Unmount returns.
func TestMountGCS(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	gcs := newFakeGCS(t, "ckpt")
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{
		{URL: "gs://ckpt/run1", Mode: node.ModeMount, Path: "~/ckpt"},
		{URL: "gs://ckpt/cached", Mode: node.ModeMountCached, Path: "~/cached"},
	}}
	o := node.Options{Workdir: workdir, Home: home, Env: gcs.env(home), CacheDir: t.TempDir(), Log: logTo(t)}

	start := time.Now()
	m, err := node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("two mounts ready after %s", time.Since(start))
	if err := os.WriteFile(filepath.Join(home, "ckpt", "step-1.txt"), []byte("step 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := gcs.get("ckpt", "run1/step-1.txt"); got != "step 1" {
		t.Errorf("after close the bucket holds %q, want the write", got)
	}
	if err := os.WriteFile(filepath.Join(home, "cached", "model.bin"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := gcs.get("ckpt", "cached/model.bin"); got != "weights" {
		t.Errorf("after Unmount the bucket holds %q, want the MOUNT_CACHED write", got)
	}
	nodetest.AssertClean(t, root)

	m, err = node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ckpt/step-1.txt", "cached/model.bin"} {
		if _, err := os.Stat(filepath.Join(home, p)); err != nil {
			t.Errorf("next attempt: %v", err)
		}
	}
	if err := m.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)
}

func TestFetchGCSMissing(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	gcs := newFakeGCS(t, "jobs")
	tests := []struct {
		name    string
		files   node.Files
		wantErr string
	}{{
		name:    "workdir",
		files:   node.Files{Store: "gs://jobs/pre", Workdir: "job-9/workdir"},
		wantErr: "(gs://jobs/pre/job-9/workdir): not found",
	}, {
		name:    "MOUNT bucket",
		files:   node.Files{Buckets: []node.Bucket{{URL: "gs://nobucket/x", Path: "data"}}},
		wantErr: "(MOUNT gs://nobucket/x): bucket gs://nobucket: not found",
	}}
	for _, tt := range tests {
		root, home, workdir := nodeDirs(t)
		_, err := node.Fetch(context.Background(), tt.files, node.Options{Workdir: workdir, Home: home, Env: gcs.env(home)})
		if err == nil || !errors.Is(err, node.ErrNotFound) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Fetch: %v; want ErrNotFound saying %q", tt.name, err, tt.wantErr)
		}
		nodetest.AssertClean(t, root)
	}
}
