package driver

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/bucket/node"
)

// withFiles hands the runner f (bucket/node) as its engine would.
func withFiles(t *testing.T, r *Runner, f node.Files) {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	r.Env = append(r.Env, node.EnvFiles+"="+string(b))
}

// Before setup the runner fetches the workdir from the job-files bucket
// (once per node: the run task of a Nomad alloc finds it fetched) and
// the phases run in it.
func TestRunFetchesTheWorkdirFirst(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	if err := os.MkdirAll(filepath.Join(store, "job-1", "workdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(store, "job-1", "workdir", "train.py"), []byte("lr=0.1\n"), 0o644)
	r, out, dir := newTestRunner(t, "cat train.py > \"$MARK.setup\"", "cat train.py", nil)
	r.Config.Workdir = filepath.Join(dir, "alloc", "sky_workdir")
	withFiles(t, r, node.Files{Store: "file://" + store, Workdir: "job-1/workdir"})
	if code := r.Run(context.Background(), PhaseAll); code != 0 {
		t.Fatalf("Run = %d, output:\n%s", code, out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "mark.setup")); string(b) != "lr=0.1\n" {
		t.Errorf("setup read %q from its workdir, want the fetched train.py", b)
	}
	// The run task of the same alloc: fetched already, not again.
	os.WriteFile(filepath.Join(store, "job-1", "workdir", "train.py"), []byte("changed\n"), 0o644)
	if code := r.Run(context.Background(), PhaseRun); code != 0 {
		t.Fatalf("Run(run) = %d, output:\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "changed") {
		t.Errorf("the run phase fetched the workdir again:\n%s", out.String())
	}
}

// A fetch that fails is the setup's failure: nothing of the task runs,
// and the result says setup, with the reason in the output.
func TestRunFetchFailureFailsSetup(t *testing.T) {
	t.Parallel()
	r, out, dir := newTestRunner(t, "touch \"$MARK.setup\"", "touch \"$MARK.run\"", nil)
	withFiles(t, r, node.Files{Store: "file://" + filepath.Join(dir, "no-store"), Workdir: "job-1/workdir"})
	if code := r.Run(context.Background(), PhaseAll); code != 1 {
		t.Fatalf("Run = %d, want 1; output:\n%s", code, out.String())
	}
	res, err := ReadResult(r.Config.ResultFile)
	if err != nil || res.Phase != PhaseSetup || res.ExitCode != 1 {
		t.Errorf("result %+v (%v), want setup failed with 1", res, err)
	}
	if !strings.Contains(out.String(), "cannot fetch the job's files") {
		t.Errorf("no reason in the output:\n%s", out.String())
	}
	for _, m := range []string{"mark.setup", "mark.run"} {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			t.Errorf("%s ran", m)
		}
	}
}
