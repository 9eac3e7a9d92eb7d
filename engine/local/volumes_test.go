package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// TestVolumes: a named volume is a directory under the engine's state
// that outlives the job and the next job sees; an ephemeral one goes with
// its attempt; both are at their paths while the job runs, and gone from
// there once it ended.
func TestVolumes(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	host := t.TempDir()
	data, scratch, sub := filepath.Join(host, "mnt", "data"), filepath.Join(host, "scratch"), filepath.Join(host, "ckpt")
	volumes := []task.Volume{
		{Path: data, Name: "datasets"},
		{Path: scratch, SizeGB: 10},
		{Path: sub, Name: "datasets", SubPath: "run-1"},
	}
	write := newTestAttempt("writer", "", "echo $SKYPILOT_NODE_RANK > "+data+"/rank-$SKYPILOT_NODE_RANK\n"+
		"echo tmp > "+scratch+"/tmp-$SKYPILOT_NODE_RANK\necho ckpt > "+sub+"/c\n", 2)
	write.Task.Volumes = volumes
	if err := e.Check(write.Task); err != nil {
		t.Fatalf("Check refused volumes: %v", err)
	}
	if err := e.Launch(context.Background(), write); err != nil {
		t.Fatal(err)
	}
	if ev := e.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Fatalf("exit = %+v; logs:\n%s", ev, readLogs(t, e, write.Ref, engine.LogOptions{}))
	}
	for _, p := range []string{data, scratch, sub} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the job ended (%v)", p, err)
		}
	}
	stored := filepath.Join(e.dir, "volumes", "datasets")
	for _, f := range []string{"rank-0", "rank-1", "run-1/c"} {
		if _, err := os.Stat(filepath.Join(stored, f)); err != nil {
			t.Errorf("the named volume lost %s: %v", f, err)
		}
	}

	// The next job sees what the first left in the named volume.
	read := newTestAttempt("reader", "", "cat "+data+"/rank-1 "+sub+"/c\n", 1)
	read.Task.Volumes = volumes[:1:1]
	read.Task.Volumes = append(read.Task.Volumes, volumes[2])
	if err := e.Launch(context.Background(), read); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reader's output", eventTimeout, logsContain(t, e, read.Ref, "ckpt"))
	if logs := readLogs(t, e, read.Ref, engine.LogOptions{}); !strings.Contains(logs, ") 1\n") {
		t.Errorf("the reader did not see the writer's file:\n%s", logs)
	}

	// What the host has at a volume's path is never replaced.
	taken := filepath.Join(host, "taken")
	if err := os.MkdirAll(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	over := newTestAttempt("over", "", "true", 1)
	over.Task.Volumes = []task.Volume{{Path: taken, Name: "datasets"}}
	if err := e.Launch(context.Background(), over); !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a volume over an existing directory: %v, want an infeasible launch saying it exists", err)
	}

	// A volume that would leave the engine's volumes is refused.
	for _, v := range []task.Volume{{Path: data, Name: ".."}, {Path: data, Name: "a", SubPath: "../../etc"}, {Path: "rel", Name: "a"}} {
		if err := e.Check(task.Task{Name: "t", Volumes: []task.Volume{v}}); !engine.IsInfeasible(err) {
			t.Errorf("Check(%+v) = %v, want infeasible", v, err)
		}
	}
}
