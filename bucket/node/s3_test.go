package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/bucket/node/internal/nodetest"
	"github.com/skynomad/skynomad/internal/s3fake"
)

// fakeS3 is an in-memory S3 on loopback.
type fakeS3 struct{ *s3fake.Server }

func newFakeS3(t *testing.T, buckets ...string) fakeS3 {
	t.Helper()
	return fakeS3{s3fake.New(t, s3fake.Options{Buckets: buckets})}
}

// env is a task environment that reaches f, with what must not reach
// rclone: an AWS_CA_BUNDLE (rclone 1.60 fails on any) and the task's own
// rclone settings.
func (f fakeS3) env(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + s3fake.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s3fake.SecretAccessKey,
		"AWS_ENDPOINT_URL_S3=" + f.URL,
		"AWS_CA_BUNDLE=/nonexistent/ca.pem",
		"RCLONE_CONFIG_SKYNOMADS3_ENDPOINT=http://127.0.0.1:1",
	}
}

func (f fakeS3) put(t *testing.T, bucket string, objects map[string]string) {
	t.Helper()
	for k, v := range objects {
		_, err := f.Client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(v),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// get returns the object's content, or ok false if there is none.
func (f fakeS3) get(t *testing.T, bucket, key string) (string, bool) {
	t.Helper()
	out, err := f.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return "", false
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), true
}

// unmountClean unmounts m and checks that nothing of it is left: no
// mount or mount process under root, none of its rclone processes alive.
func unmountClean(ctx context.Context, t *testing.T, m *node.Mounts, root string) {
	t.Helper()
	pids := node.RclonePIDs(m)
	if err := m.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)
	for _, pid := range pids {
		if nodetest.Alive(pid) {
			t.Errorf("rclone pid %d runs after Unmount", pid)
		}
	}
}

func TestFetchS3(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "jobs", "data")
	fs.put(t, "jobs", prefixed("pre/", jobUpload))
	fs.put(t, "data", map[string]string{"sub/e.txt": "e", "sub/deep/f.txt": "f", "other.txt": "no"})
	root, home, workdir := nodeDirs(t)

	f := jobFiles("s3://jobs/pre", root)
	f.Buckets = []node.Bucket{
		{URL: "s3://data/sub", Mode: node.ModeCopy, Path: filepath.Join(root, "copied")},
		{URL: "s3://data/other.txt", Mode: node.ModeCopy, Path: "other.txt"},
	}
	m, err := node.Fetch(context.Background(), f, node.Options{Workdir: workdir, Home: home, Env: fs.env(home), Log: logTo(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount(context.Background())

	if got, err := os.ReadFile(filepath.Join(workdir, "other.txt")); err != nil || string(got) != "no" {
		t.Errorf("COPY of one object: %q, %v", got, err)
	}
	os.Remove(filepath.Join(workdir, "other.txt"))
	checkJobFiles(t, root, home, workdir)
	want := map[string]string{"e.txt": "0644 e", "deep/": "0755", "deep/f.txt": "0644 f"}
	if diff := cmp.Diff(want, nodetest.Tree(t, filepath.Join(root, "copied"))); diff != "" {
		t.Errorf("COPY bucket (-want +got):\n%s", diff)
	}
}

func prefixed(prefix string, m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

// TestMountS3Checkpoint is the checkpoint pattern: what an attempt writes
// through a MOUNT is in the bucket once the file is closed, and the next
// attempt reads it back.
func TestMountS3Checkpoint(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "ckpt")
	fs.put(t, "ckpt", map[string]string{"run1/step-0.txt": "step 0"})
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{{URL: "s3://ckpt/run1", Mode: node.ModeMount, Path: "~/ckpt"}}}
	o := node.Options{Workdir: workdir, Home: home, Env: fs.env(home), CacheDir: t.TempDir(), Log: logTo(t)}
	ckpt := filepath.Join(home, "ckpt")

	start := time.Now()
	m, err := node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MOUNT ready after %s", time.Since(start))
	if diff := cmp.Diff([]string{ckpt}, nodetest.MountsUnder(t, root)); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if got, err := os.ReadFile(filepath.Join(ckpt, "step-0.txt")); err != nil || string(got) != "step 0" {
		t.Errorf("reading through the mount: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(ckpt, "step-1.txt"), []byte("step 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := fs.get(t, "ckpt", "run1/step-1.txt"); got != "step 1" {
		t.Errorf("after close the bucket holds %q (%v), want the write", got, ok)
	}
	unmountClean(context.Background(), t, m, root)
	if err := m.Unmount(context.Background()); err != nil {
		t.Errorf("second Unmount: %v", err)
	}

	// The next attempt.
	m, err = node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(ckpt, "step-1.txt")); err != nil || string(got) != "step 1" {
		t.Errorf("next attempt reads %q, %v", got, err)
	}
	if err := m.Unmount(context.Background()); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)
	if entries, _ := os.ReadDir(o.CacheDir); len(entries) > 0 {
		t.Errorf("rclone caches left in %s: %v", o.CacheDir, entries)
	}
}

// TestUnmountBusy: a file still open on the mount (a task's orphan)
// does not keep the mount or rclone alive.
func TestUnmountBusy(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "ckpt")
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{{URL: "s3://ckpt/run", Mode: node.ModeMount, Path: "~/ckpt"}}}
	m, err := node.Fetch(context.Background(), f, node.Options{Workdir: workdir, Home: home, Env: fs.env(home), Log: logTo(t)})
	if err != nil {
		t.Fatal(err)
	}
	held, err := os.Create(filepath.Join(home, "ckpt", "held.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.WriteString("partial"); err != nil {
		t.Fatal(err)
	}
	unmountClean(context.Background(), t, m, root)
}

// TestMountCachedS3: a MOUNT_CACHED write is in the bucket once Unmount
// returns.
func TestMountCachedS3(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "ckpt")
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{{URL: "s3://ckpt/cached", Mode: node.ModeMountCached, Path: "/" + strings.TrimPrefix(filepath.Join(root, "mnt"), "/")}}}
	o := node.Options{Workdir: workdir, Home: home, Env: fs.env(home), CacheDir: t.TempDir(), Log: logTo(t)}
	m, err := node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789", 100_000)
	if err := os.MkdirAll(filepath.Join(root, "mnt", "epoch-3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "mnt", "epoch-3", "model.bin"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unmountClean(ctx, t, m, root)
	if got, ok := fs.get(t, "ckpt", "cached/epoch-3/model.bin"); got != big {
		t.Errorf("after Unmount the bucket holds %d bytes (%v), want %d", len(got), ok, len(big))
	}
	if entries, _ := os.ReadDir(o.CacheDir); len(entries) > 0 {
		t.Errorf("rclone caches left in %s: %v", o.CacheDir, entries)
	}
}

func TestFetchS3Missing(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "jobs", "ckpt")
	fs.put(t, "jobs", prefixed("pre/", jobUpload))
	tests := []struct {
		name    string
		files   node.Files
		wantErr []string
	}{{
		name:    "workdir",
		files:   node.Files{Store: "s3://jobs/pre", Workdir: "job-2/workdir"},
		wantErr: []string{"workdir /", "(s3://jobs/pre/job-2/workdir): not found"},
	}, {
		name:    "single file",
		files:   node.Files{Store: "s3://jobs/pre", Copies: []node.Copy{{Key: "job-1/local-file-mounts/9", Path: "/tmp/never"}}},
		wantErr: []string{"file mount /tmp/never (s3://jobs/pre/job-1/local-file-mounts/9): not found"},
	}, {
		name:    "mode list",
		files:   node.Files{Store: "s3://jobs/pre", Workdir: "job-1/workdir", WorkdirModes: "job-1/nope.json"},
		wantErr: []string{"mode list s3://jobs/pre/job-1/nope.json: not found"},
	}, {
		name:    "COPY bucket",
		files:   node.Files{Buckets: []node.Bucket{{URL: "s3://nobucket/data", Mode: node.ModeCopy, Path: "/tmp/never"}}},
		wantErr: []string{"file mount /tmp/never (COPY s3://nobucket/data): not found"},
	}, {
		name: "MOUNT bucket, after a good mount",
		files: node.Files{Buckets: []node.Bucket{
			{URL: "s3://ckpt/new-run", Mode: node.ModeMount, Path: "ckpt"},
			{URL: "s3://nobucket/x", Mode: node.ModeMount, Path: "data"},
		}},
		wantErr: []string{"(MOUNT s3://nobucket/x): bucket s3://nobucket: not found", "directory not found"},
	}, {
		name:    "MOUNT_CACHED bucket",
		files:   node.Files{Buckets: []node.Bucket{{URL: "s3://nobucket", Mode: node.ModeMountCached, Path: "data"}}},
		wantErr: []string{"(MOUNT_CACHED s3://nobucket): bucket s3://nobucket: not found"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, home, workdir := nodeDirs(t)
			_, err := node.Fetch(context.Background(), tt.files, node.Options{Workdir: workdir, Home: home, Env: fs.env(home), Log: logTo(t)})
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			t.Log(err)
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !errors.Is(err, node.ErrNotFound) {
				t.Errorf("errors.Is(err, ErrNotFound) = false")
			}
			nodetest.AssertClean(t, root)
		})
	}
}

// TestMountS3DeadRclone: rclone killed with SIGKILL leaves a dead mount;
// Unmount, Sweep and the next Fetch each clear it.
func TestMountS3DeadRclone(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "ckpt")
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{{URL: "s3://ckpt/run", Mode: node.ModeMount, Path: "~/ckpt"}}}
	o := node.Options{Workdir: workdir, Home: home, Env: fs.env(home), Log: logTo(t)}
	ckpt := filepath.Join(home, "ckpt")
	paths, err := node.MountPaths(f, o)
	if err != nil || !cmp.Equal(paths, []string{ckpt}) {
		t.Fatalf("MountPaths = %q, %v", paths, err)
	}

	killRclone := func(m *node.Mounts) {
		t.Helper()
		for _, pid := range node.RclonePIDs(m) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for i := 0; ; i++ {
			if _, err := os.Stat(ckpt); errors.Is(err, syscall.ENOTCONN) {
				return
			}
			if i > 100 {
				t.Fatal("the mount did not die")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Unmount of a dead mount.
	m, err := node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	killRclone(m)
	if err := m.Unmount(context.Background()); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)

	// Sweep of a dead mount.
	m, err = node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	killRclone(m)
	if err := node.Sweep(paths); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)
	if err := m.Unmount(context.Background()); err != nil {
		t.Errorf("Unmount after Sweep: %v", err)
	}

	// The next Fetch at a dead mount.
	m, err = node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	killRclone(m)
	m2, err := node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatalf("Fetch over a dead mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ckpt, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m2.Unmount(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Unmount(context.Background())
	nodetest.AssertClean(t, root)

	// Sweep of a live mount whose runner is gone stops its rclone.
	m, err = node.Fetch(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Sweep(paths); err != nil {
		t.Fatal(err)
	}
	nodetest.AssertClean(t, root)
	if err := m.Unmount(context.Background()); err != nil {
		t.Errorf("Unmount after Sweep: %v", err)
	}
}

// A runner killed with SIGKILL: its rclone gets SIGTERM from the kernel
// and exits; rclone 1.60 may leave its mount behind, dead, for Sweep.
const helperEnv = "NODE_TEST_HELPER_FILES"

func TestMain(m *testing.M) {
	if files := os.Getenv(helperEnv); files != "" {
		os.Exit(fetchAndWait(files))
	}
	os.Exit(m.Run())
}

// fetchAndWait is a runner: it fetches, prints its rclone pids, and waits
// to be killed.
func fetchAndWait(files string) int {
	var f node.Files
	if err := json.Unmarshal([]byte(files), &f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m, err := node.Fetch(context.Background(), f, node.Options{Workdir: os.Getenv("NODE_TEST_WORKDIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("pids", strings.Trim(fmt.Sprint(node.RclonePIDs(m)), "[]"))
	select {}
}

func TestMountS3RunnerKilled(t *testing.T) {
	nodetest.RequireRclone(t)
	t.Parallel()
	fs := newFakeS3(t, "ckpt")
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{
		{URL: "s3://ckpt/a", Mode: node.ModeMount, Path: "~/a"},
		{URL: "s3://ckpt/b", Mode: node.ModeMountCached, Path: "~/b"},
	}}
	files, _ := json.Marshal(f)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// TMPDIR: the rclone caches the killed runner leaves stay in the test's.
	cmd.Env = append(fs.env(home), helperEnv+"="+string(files), "NODE_TEST_WORKDIR="+workdir, "TMPDIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("runner: %v", err)
	}
	var pids []int
	for _, s := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "pids")) {
		pid, _ := strconv.Atoi(s)
		pids = append(pids, pid)
	}
	if len(pids) != 2 || len(nodetest.MountsUnder(t, root)) != 2 {
		t.Fatalf("runner mounted %v with rclone pids %v", nodetest.MountsUnder(t, root), pids)
	}
	cmd.Process.Kill()
	cmd.Wait()

	deadline := time.Now().Add(15 * time.Second)
	for len(nodetest.MountProcesses(t, root)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range pids {
		if nodetest.Alive(pid) {
			t.Errorf("rclone pid %d outlived its runner", pid)
		}
	}
	paths, err := node.MountPaths(f, node.Options{Workdir: workdir, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Sweep(paths); err != nil {
		t.Error(err)
	}
	nodetest.AssertClean(t, root)
}
