package nomad

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/internal/realagent"
)

// realClient is a client of the Nomad agent at NOMAD_ADDR; without one the
// test skips (fails in CI: see realagent).
func realClient(t *testing.T) *api.Client {
	t.Helper()
	realagent.Addr(t, "NOMAD_ADDR", "no Nomad agent (raw_exec enabled) to run against; `make test` starts one")
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// realConfig renders attempts as the controller does (render.RenderJob),
// with this test binary as the runner: the agent's raw_exec clients run on
// this host as this user, and TestMain runs `driver` (see main_test.go).
func realConfig(t *testing.T, client *api.Client, sink engine.Sink, poll time.Duration) Config {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Client: client, Render: render.Options{RunnerPath: self}, Sink: sink, PollInterval: poll}
}

// startReal builds an engine from cfg and starts it until the test ends.
func startReal(t *testing.T, ctx context.Context, cfg Config) *Engine {
	t.Helper()
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// realEngine starts an engine that polls every poll on the Nomad agent at
// NOMAD_ADDR, or skips (fails in CI: see realagent).
func realEngine(t *testing.T, poll time.Duration) (*api.Client, *recorder, *Engine, context.Context) {
	t.Helper()
	client := realClient(t)
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	eng := startReal(t, ctx, realConfig(t, client, rec.sink, poll))
	return client, rec, eng, ctx
}

// cleanUpReal purges the job and the Variables the engine wrote for it.
func cleanUpReal(t *testing.T, client *api.Client, jobID string) {
	t.Cleanup(func() {
		_, _, _ = client.Jobs().Deregister(jobID, true, nil)
		for _, path := range []string{naming.StopVariable(jobID), naming.AttemptVariable(jobID), naming.SecretsVariable(jobID)} {
			_, _ = client.Variables().Delete(path, nil)
		}
	})
}

// realJobID is a managed-job id no other run uses.
func realJobID() int64 { return time.Now().UnixNano() / 1000 }

func readLogs(t *testing.T, ctx context.Context, eng *Engine, ref engine.Ref) string {
	t.Helper()
	r, err := eng.Logs(ctx, ref, engine.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestRealNomad runs a tiny raw_exec job through the engine on the Nomad
// agent at NOMAD_ADDR (a client with raw_exec enabled is needed).
func TestRealNomad(t *testing.T) {
	client, rec, eng, ctx := realEngine(t, time.Second)
	a := attempt(realJobID(), 1, "echo preparing", "echo hello-from-skynomad; exit 3", 1)
	cleanUpReal(t, client, JobID(a.Ref))
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitWithin(t, a.Ref, engine.EventExited, 2*time.Minute)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 3 {
		t.Errorf("exited %+v, want run phase with code 3", ev)
	}
	b := readLogs(t, ctx, eng, a.Ref)
	for _, want := range []string{"preparing", "hello-from-skynomad"} {
		if !strings.Contains(b, want) {
			t.Errorf("logs %q lack %q", b, want)
		}
	}
}

// TestRealNomadAdoption stops the running alloc of attempt 1 as
// `nomad alloc stop` does, with its node still eligible (5a): Nomad places
// a linked replacement, the engine adopts it as attempt 2, and the job
// finishes as attempt 2 without being registered again; the replacement
// started only after the stopped alloc ended (its runner forwards Nomad's
// SIGTERM to the script). The task finds a marker file the first run left,
// so the client must run on this host.
func TestRealNomadAdoption(t *testing.T) {
	client, rec, eng, ctx := realEngine(t, time.Second)
	marker := filepath.Join(t.TempDir(), "first-run-done")
	run := fmt.Sprintf("if [ -e %[1]s ]; then echo second-run; exit 0; fi; touch %[1]s; echo first-run; sleep 600", marker)
	a1 := attempt(realJobID(), 1, "", run, 1)
	a2 := attempt(a1.Ref.JobID, 2, "", run, 1)
	jobID := JobID(a1.Ref)
	cleanUpReal(t, client, jobID)
	if err := eng.Launch(ctx, a1); err != nil {
		t.Fatal(err)
	}
	rec.waitWithin(t, a1.Ref, engine.EventRunning, time.Minute)
	stubs, _, err := client.Jobs().Allocations(jobID, false, nil)
	if err != nil || len(stubs) != 1 {
		t.Fatalf("allocations of %s: %d, %v; want 1", jobID, len(stubs), err)
	}
	first := stubs[0].ID
	if _, err := client.Allocations().Stop(&api.Allocation{ID: first}, nil); err != nil {
		t.Fatal(err)
	}

	ev := rec.waitWithin(t, a1.Ref, engine.EventPreempted, time.Minute)
	if ev.Replacement == nil || *ev.Replacement != a2.Ref || ev.Reason != "alloc stopped: alloc is being migrated" {
		t.Fatalf("preempted %+v, want replaced by attempt 2 after a migration stop", ev)
	}
	done := rec.waitWithin(t, a2.Ref, engine.EventExited, time.Minute)
	if done.Phase != engine.PhaseRun || done.ExitCode != 0 {
		t.Errorf("attempt 2 exited %+v, want run phase with code 0", done)
	}
	if !strings.Contains(readLogs(t, ctx, eng, a1.Ref), "first-run") || !strings.Contains(readLogs(t, ctx, eng, a2.Ref), "second-run") {
		t.Errorf("each attempt's logs should be its own run")
	}
	if err := eng.Launch(ctx, a2); err != nil {
		t.Errorf("Launch(attempt 2) after adoption: %v", err)
	}
	versions, _, _, err := client.Jobs().Versions(jobID, false, nil)
	if err != nil || len(versions) != 1 {
		t.Errorf("job versions: %d, %v; want 1 (attempt 2 runs in attempt 1's)", len(versions), err)
	}

	old, _, err := client.Allocations().Info(first, nil)
	if err != nil {
		t.Fatal(err)
	}
	repl, _, err := client.Allocations().Info(old.NextAllocation, nil)
	if err != nil {
		t.Fatal(err)
	}
	ended, started := old.TaskStates[taskRun].FinishedAt, repl.TaskStates[taskRun].StartedAt
	if started.Before(ended) {
		t.Errorf("the replacement started at %s, before the stopped alloc ended at %s", started, ended)
	}
	t.Logf("stopped alloc ended %s, replacement started %s (%s later)", ended, started, started.Sub(ended))
}

// TestRealNomadFollowLogs follows a short attempt from its placement: the
// stream has setup's and run's output and ends soon after the attempt
// does, although Nomad keeps a followed log open after its task died.
func TestRealNomadFollowLogs(t *testing.T) {
	client, rec, eng, ctx := realEngine(t, 5*time.Second) // the default: the follow must not wait on it
	a := attempt(realJobID(), 1, "echo preparing", "echo hello-from-skynomad", 1)
	cleanUpReal(t, client, JobID(a.Ref))
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	rec.waitWithin(t, a.Ref, engine.EventPlaced, time.Minute)
	r, err := eng.Logs(ctx, a.Ref, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	exited := rec.waitWithin(t, a.Ref, engine.EventExited, time.Minute)
	select {
	case got := <-read:
		if want := "(setup pid=N) preparing\n(t, pid=N) hello-from-skynomad\n"; normalizePIDs(got) != want {
			t.Errorf("followed logs %q, want %q", got, want)
		}
		t.Logf("the follow ended %s after the attempt's exit", time.Since(exited.Time).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the followed logs did not end within 10s of the attempt's exit")
	}
}

var pidRE = regexp.MustCompile(`pid=\d+`)

// normalizePIDs hides the runner's pids in its output prefixes.
func normalizePIDs(s string) string { return pidRE.ReplaceAllString(s, "pid=N") }
