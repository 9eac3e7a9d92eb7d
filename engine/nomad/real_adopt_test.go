package nomad

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// firstRunThenSecond is a run script that, the first time, touches marker
// and runs until it is stopped, and after that prints second-run and runs
// until release exists (at once if release is ""), then exits 0: attempt
// 1 and Nomad's replacement of it are told apart by their output. Both
// clients run on this host, so the marker is seen by the replacement
// wherever Nomad places it.
func firstRunThenSecond(marker, release string) string {
	wait := ""
	if release != "" {
		wait = fmt.Sprintf("while [ ! -e %s ]; do sleep 0.1; done; ", shellQuote(release))
	}
	return fmt.Sprintf("if [ -e %[1]s ]; then echo second-run; %[2]sexit 0; fi; touch %[1]s; echo first-run; sleep 600", shellQuote(marker), wait)
}

// waitExists waits until the task made path (the tasks run on this host).
func waitExists(t *testing.T, path string) {
	t.Helper()
	realEventually(t, path+" to exist", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

// TestRealAdoptStoppedAlloc: the running alloc of attempt 1 is stopped
// (Allocations().Stop, as the spot handler and `nomad alloc stop` do)
// while its node stays eligible (5a). Nomad places a linked replacement by
// itself; the engine counts that as the recovery: Preempted carries the
// replacement, which runs as attempt 2 in the same job version and is
// reported as such, and nothing is registered or stopped. The replacement
// starts only once the stopped alloc has ended (the runner forwards
// Nomad's SIGTERM to the script).
func TestRealAdoptStoppedAlloc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		notice bool // the spot handler left its Variable
		wantA1 []engine.EventKind
	}{
		{
			name: "stopped by the spot handler (5a)", notice: true,
			wantA1: []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreemptionNotice, engine.EventPreempted},
		},
		{
			name:   "stopped by an operator (nomad alloc stop)",
			wantA1: []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventPreempted},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newRealHarness(t, nil)
			marker := filepath.Join(t.TempDir(), "first-run-done")
			run := firstRunThenSecond(marker, "")
			a1 := h.attempt(t, 1, "echo setup", run, 1)
			a2 := attempt(a1.Ref.JobID, 2, "echo setup", run, 1)
			jobID := JobID(a1.Ref)
			h.launch(t, a1)
			h.wait(t, a1.Ref, engine.EventRunning)
			waitExists(t, marker) // the first run is under way, not about to start
			first := h.onlyAlloc(t, jobID)
			noticed := time.Now().UTC().Truncate(time.Second)
			deadline := noticed.Add(2 * time.Minute)
			if tt.notice {
				h.putNotice(t, first, noticed, deadline)
			}
			h.stopAlloc(t, first.ID)

			ev := h.wait(t, a1.Ref, engine.EventPreempted)
			// The ending waits for the stopped alloc to end.
			old := h.alloc(t, first.ID)
			if !terminal(old.ClientStatus) {
				t.Errorf("Preempted while the stopped alloc is %s", old.ClientStatus)
			}
			want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: first.NodeName,
				Reason: "alloc stopped: alloc is being migrated", Replacement: &a2.Ref}
			if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
				t.Errorf("preempted event (-want +got):\n%s", diff)
			}
			if tt.notice {
				if n := h.wait(t, a1.Ref, engine.EventPreemptionNotice); !n.Deadline.Equal(deadline) {
					t.Errorf("notice deadline %v, want %v", n.Deadline, deadline)
				}
			}
			if diff := cmp.Diff(tt.wantA1, h.rec.kinds(a1.Ref)); diff != "" {
				t.Errorf("attempt 1 events (-want +got):\n%s", diff)
			}
			repl := old.NextAllocation
			if repl == "" {
				t.Fatal("Nomad placed no linked replacement")
			}
			rec, _, err := h.client.Variables().Read(naming.AttemptVariable(jobID), nil)
			if err != nil {
				t.Fatalf("the adoption was not recorded: %v", err)
			}
			if diff := cmp.Diff(map[string]string{"registered": "1", "attempt": "2", "alloc": repl}, map[string]string{
				"registered": rec.Items["registered"], "attempt": rec.Items["attempt"], "alloc": rec.Items["alloc"],
			}); diff != "" {
				t.Errorf("adoption record (-want +got):\n%s", diff)
			}

			h.wait(t, a2.Ref, engine.EventExited)
			// The controller may launch attempt 2 itself (after a restart it
			// finds the attempt "launching"): nothing happens.
			if err := h.eng.Launch(h.ctx, a2); err != nil {
				t.Errorf("Launch(attempt 2) after adoption: %v", err)
			}
			replAlloc := h.alloc(t, repl)
			node := replAlloc.NodeName
			wantA2 := []engine.Event{
				{Ref: a2.Ref, Kind: engine.EventPlaced, Node: node},
				{Ref: a2.Ref, Kind: engine.EventSetupStarted, Node: node},
				{Ref: a2.Ref, Kind: engine.EventRunning, Node: node},
				{Ref: a2.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Node: node, Reason: "all tasks completed"},
			}
			if diff := cmp.Diff(wantA2, h.rec.of(a2.Ref), ignoreTime); diff != "" {
				t.Errorf("attempt 2 events (-want +got):\n%s", diff)
			}
			if !strings.Contains(readLogs(t, h.ctx, h.eng, a1.Ref), "first-run") || !strings.Contains(readLogs(t, h.ctx, h.eng, a2.Ref), "second-run") {
				t.Errorf("each attempt's logs should be its own run")
			}

			reqs := h.reqs.all()
			if n := count(reqs, "PUT /v1/jobs"); n != 1 {
				t.Errorf("the job was registered %d times, want once (attempt 2 is Nomad's replacement)", n)
			}
			if n := count(reqs, "DELETE /v1/job/"); n != 0 {
				t.Errorf("the engine stopped the job %d times, want never", n)
			}
			if diff := cmp.Diff([]string{"1"}, h.attemptVersions(t, jobID)); diff != "" {
				t.Errorf("job versions' sky.attempt (-want +got): attempt 2 runs in attempt 1's\n%s", diff)
			}
			if ok, times := startedAfter(replAlloc, old); !ok {
				t.Errorf("two copies at once: %s", times)
			}
		})
	}
}

// TestRealAdoptedAttemptAfterRestart: the engine adopted Nomad's
// replacement as attempt 2, then the controller and the engine restarted,
// and attempt 2 finished meanwhile.
func TestRealAdoptedAttemptAfterRestart(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	marker := filepath.Join(dir, "first-run-done")
	run := firstRunThenSecond(marker, release)
	a1 := h.attempt(t, 1, "", run, 1)
	a2 := attempt(a1.Ref.JobID, 2, "", run, 1)
	jobID := JobID(a1.Ref)
	h.launch(t, a1)
	h.wait(t, a1.Ref, engine.EventRunning)
	waitExists(t, marker)
	first := h.onlyAlloc(t, jobID)
	h.stopAlloc(t, first.ID)
	h.wait(t, a1.Ref, engine.EventPreempted)
	h.wait(t, a2.Ref, engine.EventRunning)
	repl := h.alloc(t, first.ID).NextAllocation
	if err := h.eng.Close(); err != nil {
		t.Fatal(err)
	}
	touch(t, release)
	node := h.waitAllocTerminal(t, repl).NodeName

	t.Run("the controller knew of attempt 2", func(t *testing.T) {
		rec := newRecorder()
		eng := h.start(t, rec)
		if err := eng.Resume(h.ctx, a2); err != nil {
			t.Fatal(err)
		}
		ev := rec.waitWithin(t, a2.Ref, engine.EventExited, realWait)
		if ev.Phase != engine.PhaseRun || ev.ExitCode != 0 || ev.Node != node {
			t.Errorf("after restart: %+v, want run exit 0 on %s", ev, node)
		}
		err := eng.Resume(h.ctx, attempt(a1.Ref.JobID, 3, "", run, 1))
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Resume(attempt 3) = %v, want ErrNotFound", err)
		}
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the controller missed the adoption", func(t *testing.T) {
		rec := newRecorder()
		eng := h.start(t, rec)
		// Stopping attempt 1 must not touch attempt 2.
		if err := eng.Stop(h.ctx, a1.Ref); err != nil {
			t.Fatal(err)
		}
		if job, _, err := h.client.Jobs().Info(jobID, nil); err != nil || (job.Stop != nil && *job.Stop) {
			t.Fatalf("Stop of attempt 1 stopped the job that runs attempt 2 (%v)", err)
		}
		if err := eng.Resume(h.ctx, a1); err != nil {
			t.Fatal(err)
		}
		rec.waitWithin(t, a2.Ref, engine.EventExited, realWait)
		want := []engine.Event{
			{Ref: a1.Ref, Kind: engine.EventPreempted, Node: first.NodeName, Reason: "alloc stopped: alloc is being migrated", Replacement: &a2.Ref},
			{Ref: a2.Ref, Kind: engine.EventPlaced, Node: node},
			{Ref: a2.Ref, Kind: engine.EventRunning, Node: node},
			{Ref: a2.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Node: node, Reason: "all tasks completed"},
		}
		if diff := cmp.Diff(want, rec.All(), ignoreTime); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		// Launching attempt 2 (its row said "launching") does nothing.
		if err := eng.Launch(h.ctx, a2); err != nil {
			t.Fatal(err)
		}
		if n := count(h.reqs.all(), "PUT /v1/jobs"); n != 1 {
			t.Errorf("the job was registered %d times, want once", n)
		}
	})
}

// TestRealAdoptionChain: attempt 2, itself a replacement, is replaced
// again (attempt 3), which skynomad then stops; attempt 4 registers anew.
// Each attempt's logs are its own alloc's.
func TestRealAdoptionChain(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	// Each run prints how many runs there were.
	counter := filepath.Join(t.TempDir(), "runs")
	run := fmt.Sprintf("n=$(( $(cat %[1]s 2>/dev/null || echo 0) + 1 )); echo $n > %[1]s; echo run-$n; sleep 600", shellQuote(counter))
	first := h.attempt(t, 1, "", run, 1)
	a := func(n int) *engine.Attempt { return attempt(first.Ref.JobID, n, "", run, 1) }
	jobID := JobID(first.Ref)
	h.launch(t, a(1))
	h.wait(t, a(1).Ref, engine.EventRunning)
	allocs := []*api.Allocation{h.alloc(t, h.onlyAlloc(t, jobID).ID)}

	for i := range 2 {
		// Stop each run once it counted itself, not before it started.
		realEventually(t, fmt.Sprintf("run %d to count itself", i+1), func() bool {
			b, _ := os.ReadFile(counter)
			return strings.TrimSpace(string(b)) == fmt.Sprint(i+1)
		})
		h.stopAlloc(t, allocs[i].ID)
		ev := h.wait(t, a(i+1).Ref, engine.EventPreempted)
		if ev.Replacement == nil || *ev.Replacement != a(i+2).Ref {
			t.Fatalf("attempt %d preempted with replacement %v, want attempt %d", i+1, ev.Replacement, i+2)
		}
		h.wait(t, a(i+2).Ref, engine.EventRunning)
		allocs[i] = h.alloc(t, allocs[i].ID)
		allocs = append(allocs, h.alloc(t, allocs[i].NextAllocation))
		if ok, times := startedAfter(allocs[i+1], allocs[i]); !ok {
			t.Errorf("two copies at once: %s", times)
		}
	}
	rec, _, err := h.client.Variables().Read(naming.AttemptVariable(jobID), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Items; got["attempt"] != "3" || got["alloc_2"] != allocs[1].ID || got["alloc_3"] != allocs[2].ID {
		t.Errorf("adoption record %v, want attempts 2 and 3 with their allocs", got)
	}
	for i := range 3 {
		want := fmt.Sprintf("(t, pid=N) run-%d\n", i+1)
		var got string
		realEventually(t, "the output of attempt "+fmt.Sprint(i+1), func() bool {
			got = normalizePIDs(readLogs(t, h.ctx, h.eng, a(i+1).Ref))
			return got != ""
		})
		if got != want {
			t.Errorf("logs of attempt %d: %q, want %q", i+1, got, want)
		}
	}

	// The controller cancels attempt 3, or recovers it elsewhere.
	if err := h.eng.Stop(h.ctx, a(3).Ref); err != nil {
		t.Fatal(err)
	}
	h.wait(t, a(3).Ref, engine.EventStopped)
	if got := h.alloc(t, allocs[2].ID).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("after Stop attempt 3's alloc is %s, want complete", got)
	}
	h.launch(t, a(4))
	h.wait(t, a(4).Ref, engine.EventRunning)
	// Attempt 1's version, its stop by skynomad, attempt 4's version.
	if diff := cmp.Diff([]string{"1", "1", "4"}, h.attemptVersions(t, jobID)); diff != "" {
		t.Errorf("job versions' sky.attempt (-want +got):\n%s", diff)
	}
	if n := count(h.reqs.all(), "PUT /v1/jobs"); n != 2 {
		t.Errorf("the job was registered %d times, want twice (attempts 1 and 4)", n)
	}
}
