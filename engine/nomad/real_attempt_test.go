package nomad

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// The engine on the real Nomad agent `make test` starts (a server and two
// clients with the skypilot task-driver plugin and raw_exec off,
// nomad-client-1 and nomad-client-2, on this host): each attempt runs real
// bash through the plugin's runner. Tests run in parallel on the shared cluster, so none changes
// a node; each purges its job (cleanUpReal).

// TestRealAttemptOutcomes: how an attempt ends, event by event, on the
// node Nomad placed it on. (The conformance suite checks the exit codes;
// this checks every event the controller sees.)
func TestRealAttemptOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup, run string
		// play, if set, acts once the attempt runs.
		play func(t *testing.T, h *realHarness, jobID string)
		want func(node, jobID string) []engine.Event
	}{
		{
			name: "run exits 0", setup: "echo setup", run: "echo hi",
			want: func(node, _ string) []engine.Event {
				return []engine.Event{
					{Kind: engine.EventPlaced, Node: node},
					{Kind: engine.EventSetupStarted, Node: node},
					{Kind: engine.EventRunning, Node: node},
					{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 0, Node: node, Reason: "all tasks completed"},
				}
			},
		},
		{
			name: "run exits 7 (scenario 3)", run: "exit 7",
			want: func(node, _ string) []engine.Event {
				return []engine.Event{
					{Kind: engine.EventPlaced, Node: node},
					{Kind: engine.EventRunning, Node: node},
					{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 7, Node: node, Reason: "run exited with code 7 on " + node},
				}
			},
		},
		{
			name: "setup exits 3 (scenario 4)", setup: "exit 3", run: "echo never",
			want: func(node, _ string) []engine.Event {
				return []engine.Event{
					{Kind: engine.EventPlaced, Node: node},
					{Kind: engine.EventSetupStarted, Node: node},
					{Kind: engine.EventExited, Phase: engine.PhaseSetup, ExitCode: 3, Node: node, Reason: "setup exited with code 3 on " + node},
				}
			},
		},
		{
			// With no preemption record a 143 is the task's own failure.
			name: "run exits 143 without a preemption record", run: "exit 143",
			want: func(node, _ string) []engine.Event {
				return []engine.Event{
					{Kind: engine.EventPlaced, Node: node},
					{Kind: engine.EventRunning, Node: node},
					{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 143, Node: node, Reason: "run exited with code 143 on " + node},
				}
			},
		},
		{
			name: "operator stops the job (scenario 6)", run: "sleep 600",
			play: func(t *testing.T, h *realHarness, jobID string) {
				// `nomad job stop`, without -purge.
				if _, _, err := h.client.Jobs().Deregister(jobID, false, nil); err != nil {
					t.Fatal(err)
				}
			},
			want: func(node, jobID string) []engine.Event {
				return []engine.Event{
					{Kind: engine.EventPlaced, Node: node},
					{Kind: engine.EventRunning, Node: node},
					{Kind: engine.EventOperatorStopped, Node: node, Reason: "Nomad job " + jobID + " was stopped outside skynomad"},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newRealHarness(t, nil)
			a := h.attempt(t, 1, tt.setup, tt.run, 1)
			jobID := JobID(a.Ref)
			h.launch(t, a)
			placed := h.wait(t, a.Ref, engine.EventPlaced)
			if tt.play != nil {
				h.wait(t, a.Ref, engine.EventRunning)
				tt.play(t, h, jobID)
			}
			want := tt.want(placed.Node, jobID)
			h.wait(t, a.Ref, want[len(want)-1].Kind)
			if node := h.onlyAlloc(t, jobID).NodeName; placed.Node != node {
				t.Errorf("placed on %q, want the alloc's node %q", placed.Node, node)
			}
			for i := range want {
				want[i].Ref = a.Ref
			}
			if diff := cmp.Diff(want, h.rec.of(a.Ref), ignoreTime); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRealTaskEndsOnSpotSIGTERM: the spot handler records the preemption
// (its Variable) and SIGTERMs the task, whose runner exits 143; or the task
// sees the notice, checkpoints and exits 0 by itself before the handler
// stops the alloc. Whatever the exit code, the attempt was preempted:
// never a user failure, never a success.
func TestRealTaskEndsOnSpotSIGTERM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		run    func(checkpoint string) string
		end    func(t *testing.T, h *realHarness, alloc, checkpoint string)
		ending func(node string) string
	}{
		{
			name: "SIGTERM: the runner exits 143",
			run:  func(string) string { return "echo started; sleep 600" },
			end: func(t *testing.T, h *realHarness, alloc, _ string) {
				if err := h.client.Allocations().Signal(&api.Allocation{ID: alloc}, nil, taskRun, "SIGTERM"); err != nil {
					t.Fatal(err)
				}
			},
			ending: func(node string) string { return "run exited with code 143 on " + node },
		},
		{
			name: "the task checkpoints and exits 0",
			run: func(checkpoint string) string {
				return fmt.Sprintf("echo started; while [ ! -e %s ]; do sleep 0.1; done; echo checkpointed", shellQuote(checkpoint))
			},
			end:    func(t *testing.T, _ *realHarness, _, checkpoint string) { touch(t, checkpoint) },
			ending: func(node string) string { return "completed on " + node },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newRealHarness(t, nil)
			checkpoint := filepath.Join(t.TempDir(), "checkpoint")
			a1 := h.attempt(t, 1, "", tt.run(checkpoint), 1)
			h.launch(t, a1)
			h.wait(t, a1.Ref, engine.EventRunning)
			first := h.onlyAlloc(t, JobID(a1.Ref))
			noticed := time.Now().UTC().Truncate(time.Second)
			deadline := noticed.Add(2 * time.Minute)
			h.putNotice(t, first, noticed, deadline)
			tt.end(t, h, first.ID, checkpoint)

			ev := h.wait(t, a1.Ref, engine.EventPreempted)
			want := engine.Event{Ref: a1.Ref, Kind: engine.EventPreempted, Node: first.NodeName,
				Reason: "alloc ended after a preemption notice: " + tt.ending(first.NodeName)}
			if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
				t.Errorf("preempted event (-want +got):\n%s", diff)
			}
			if n := h.wait(t, a1.Ref, engine.EventPreemptionNotice); !n.Deadline.Equal(deadline) || n.Node != first.NodeName {
				t.Errorf("notice %+v, want deadline %s on %s", n, deadline, first.NodeName)
			}
			wantKinds := []engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventPreemptionNotice, engine.EventPreempted}
			if diff := cmp.Diff(wantKinds, h.rec.kinds(a1.Ref)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}

			// The controller's next attempt runs.
			a2 := attempt(a1.Ref.JobID, 2, "", "echo started; sleep 600", 1)
			h.launch(t, a2)
			h.wait(t, a2.Ref, engine.EventRunning)
		})
	}
}

// TestRealStop: Stop returns once the attempt's alloc has ended; the job
// is stopped, not purged, so `nomad job status` keeps its history.
func TestRealStop(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	a := h.attempt(t, 1, "", "sleep 600", 1)
	jobID := JobID(a.Ref)
	h.launch(t, a)
	h.wait(t, a.Ref, engine.EventRunning)
	alloc := h.onlyAlloc(t, jobID).ID
	if err := h.eng.Stop(h.ctx, a.Ref); err != nil {
		t.Fatal(err)
	}
	if got := h.alloc(t, alloc).ClientStatus; got != api.AllocClientStatusComplete {
		t.Errorf("after Stop the alloc is %s, want complete", got)
	}
	h.wait(t, a.Ref, engine.EventStopped)
	if diff := cmp.Diff([]engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventStopped}, h.rec.kinds(a.Ref)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	job, _, err := h.client.Jobs().Info(jobID, nil)
	if err != nil || job.Stop == nil || !*job.Stop {
		t.Errorf("the job should be stopped, not purged: %v, %v", job, err)
	}
}

// TestRealReRegistrationPerAttempt: each attempt is one registration, a
// new job version and a new alloc; launching the same attempt again, from
// this engine or a restarted controller's, registers nothing; a stale
// attempt is refused. The task fails the first time and succeeds the
// second (a marker file on this host tells them apart).
func TestRealReRegistrationPerAttempt(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	marker := filepath.Join(t.TempDir(), "first-run-done")
	run := fmt.Sprintf("if [ -e %[1]s ]; then echo second; exit 0; fi; touch %[1]s; echo first; exit 5", shellQuote(marker))
	a1 := h.attempt(t, 1, "", run, 1)
	jobID := JobID(a1.Ref)
	h.launch(t, a1)
	h.launch(t, a1) // same attempt again: nothing
	// A restarted controller launching the same attempt: nothing either.
	other := h.start(t, newRecorder())
	if err := other.Launch(h.ctx, a1); err != nil {
		t.Fatal(err)
	}
	if n := count(h.reqs.all(), "PUT /v1/jobs"); n != 1 {
		t.Errorf("attempt 1 registered %d times, want 1", n)
	}
	if ev := h.wait(t, a1.Ref, engine.EventExited); ev.Phase != engine.PhaseRun || ev.ExitCode != 5 {
		t.Errorf("attempt 1 exited %+v, want run 5", ev)
	}

	a2 := attempt(a1.Ref.JobID, 2, "", run, 1)
	h.launch(t, a2)
	ev := h.wait(t, a2.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 0 {
		t.Errorf("attempt 2 exited %+v, want run 0: attempt 1's failure leaked into it", ev)
	}
	if diff := cmp.Diff([]string{"1", "2"}, h.attemptVersions(t, jobID)); diff != "" {
		t.Errorf("job versions' sky.attempt (-want +got):\n%s", diff)
	}
	if allocs := h.allocs(t, jobID); len(allocs) != 2 || allocs[0].JobVersion == allocs[1].JobVersion {
		t.Errorf("the job has %d allocs, want one per attempt's version", len(allocs))
	}
	if n := count(h.reqs.all(), "PUT /v1/jobs"); n != 2 {
		t.Errorf("registered %d times for two attempts, want 2", n)
	}
	if err := h.eng.Launch(h.ctx, a1); err == nil {
		t.Errorf("launching attempt 1 after attempt 2 should fail")
	}
}

// TestRealMultiNodeFailure: a two-node attempt whose rank 1 fails: Exited
// with its code, once the engine stopped the healthy node's alloc.
func TestRealMultiNodeFailure(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	fail := filepath.Join(t.TempDir(), "fail")
	run := fmt.Sprintf(`if [ "$SKYPILOT_NODE_RANK" = 1 ]; then while [ ! -e %s ]; do sleep 0.1; done; exit 7; fi; sleep 600`, shellQuote(fail))
	a := h.attempt(t, 1, "", run, 2)
	jobID := JobID(a.Ref)
	h.launch(t, a)
	placed := h.wait(t, a.Ref, engine.EventPlaced)
	h.wait(t, a.Ref, engine.EventRunning)
	touch(t, fail)
	ev := h.wait(t, a.Ref, engine.EventExited)
	allocs := h.allocs(t, jobID)
	if len(allocs) != 2 {
		t.Fatalf("%d allocs, want 2", len(allocs))
	}
	byRank := map[string]*api.AllocationListStub{}
	for _, al := range allocs {
		byRank[al.Name[strings.LastIndex(al.Name, "["):]] = al
	}
	failed, healthy := byRank["[1]"], byRank["[0]"]
	if failed == nil || healthy == nil {
		t.Fatalf("allocs %s and %s, want ranks 0 and 1", allocs[0].Name, allocs[1].Name)
	}
	want := engine.Event{Ref: a.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 7, Node: failed.NodeName,
		Reason: "run exited with code 7 on " + failed.NodeName}
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("exited (-want +got):\n%s", diff)
	}
	if healthy.ClientStatus != api.AllocClientStatusComplete {
		t.Errorf("the healthy node's alloc is %s; the engine should have stopped it", healthy.ClientStatus)
	}
	if want := healthy.NodeName + "," + failed.NodeName; placed.Node != want {
		t.Errorf("placed on %q, want %q (rank order)", placed.Node, want)
	}
}

// TestRealLogs: setup's then run's output, stdout then stderr, each line
// prefixed by the runner; Tail; Follow gives what exists, then new lines,
// and ends when the task does.
func TestRealLogs(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	more := filepath.Join(t.TempDir(), "more")
	a := h.attempt(t, 1, "echo installing; echo warning >&2",
		fmt.Sprintf("echo step 1; while [ ! -e %s ]; do sleep 0.1; done; echo step 2", shellQuote(more)), 1)
	h.launch(t, a)
	h.wait(t, a.Ref, engine.EventRunning)

	read := func(opts engine.LogOptions) string {
		t.Helper()
		r, err := h.eng.Logs(h.ctx, a.Ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return normalizePIDs(string(b))
	}
	want := "(setup pid=N) installing\n(setup pid=N) warning\n(t, pid=N) step 1\n"
	var got string
	realEventually(t, "step 1 in the logs", func() bool {
		got = read(engine.LogOptions{})
		return strings.Contains(got, "step 1")
	})
	if got != want {
		t.Errorf("logs:\n%s\nwant:\n%s", got, want)
	}
	if got := read(engine.LogOptions{Tail: 1}); got != "(t, pid=N) step 1\n" {
		t.Errorf("tail 1: %q", got)
	}

	// Follow: what exists, then new lines, until the task ends.
	r, err := h.eng.Logs(h.ctx, a.Ref, engine.LogOptions{Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil || normalizePIDs(line) != "(t, pid=N) step 1\n" {
		t.Fatalf("follow starts with %q, %v", line, err)
	}
	touch(t, more)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if got := normalizePIDs(string(rest)); got != "(t, pid=N) step 2\n" {
		t.Errorf("followed %q", got)
	}
}

// TestRealLogsOfFailedSetup: the run task of a failed setup never started;
// its logs are a 404 to Nomad, and no error to the reader.
func TestRealLogsOfFailedSetup(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	a := h.attempt(t, 1, "echo setup broke >&2; exit 3", "echo run", 1)
	h.launch(t, a)
	h.wait(t, a.Ref, engine.EventExited)
	for _, follow := range []bool{false, true} {
		r, err := h.eng.Logs(h.ctx, a.Ref, engine.LogOptions{Follow: follow})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if got := normalizePIDs(string(b)); err != nil || got != "(setup pid=N) setup broke\n" {
			t.Errorf("follow=%v: %q, %v", follow, b, err)
		}
	}
}

// TestRealListingOvertakenByLaunch: a re-listing that read the job before
// Launch registered it, and is applied after (an event stream connecting
// while an attempt launches re-lists every watch), must not take the job
// for purged: the attempt runs on and ends as it does, never
// OperatorStopped. The agent's answer to that read is held until Launch
// returned. Found by the conformance suite on the real agent.
func TestRealListingOvertakenByLaunch(t *testing.T) {
	t.Parallel()
	a := attempt(realJobID(), 1, "", "echo hi", 1)
	read, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	h := newRealHarness(t, func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			held := false
			if r.Method == http.MethodGet && r.URL.Path == "/v1/job/"+JobID(a.Ref) {
				first.Do(func() { held = true })
			}
			resp, err := next.RoundTrip(r)
			if held {
				// The agent answered (the job is not registered yet); the
				// answer reaches the engine once the test lets it.
				close(read)
				<-release
			}
			return resp, err
		})
	})
	cleanUpReal(t, h.client, JobID(a.Ref))
	var letGo sync.Once
	releaseRead := func() { letGo.Do(func() { close(release) }) }
	t.Cleanup(releaseRead) // if the test ends early
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		h.eng.refresh(context.Background(), JobID(a.Ref))
	}()
	<-read
	h.launch(t, a)
	releaseRead()
	<-listed

	if ev := h.wait(t, a.Ref, engine.EventExited); ev.ExitCode != 0 {
		t.Errorf("exited %+v, want code 0", ev)
	}
	if kinds := h.rec.kinds(a.Ref); slices.Contains(kinds, engine.EventOperatorStopped) {
		t.Errorf("events %v: the stale listing ended the attempt as stopped by an operator", kinds)
	}
}

// TestRealCloudRefusalEndsAttempt: an attempt waits for a node of an
// offering no client has; once the autoscaler's target plugin records that
// the cloud refused capacity, the attempt ends NoCapacity with the cloud's
// reason, long before the placement timeout, and its job is stopped.
func TestRealCloudRefusalEndsAttempt(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	a := h.attempt(t, 1, "", "echo never", 1)
	a.Choice = catalog.Choice{Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1",
		InstanceType: fmt.Sprintf("t%d.large", a.Ref.JobID%1e6)}, Spot: true, Candidate: 0}
	class := a.Choice.NodeClass()
	t.Cleanup(func() { _, _ = h.client.Variables().Delete(naming.CapacityVariable(class), nil) })

	// A refusal older than the attempt says nothing about it.
	old := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	h.putRefusal(t, class, old)
	h.launch(t, a)
	time.Sleep(3 * realPoll)
	if kinds := h.rec.kinds(a.Ref); len(kinds) != 0 {
		t.Fatalf("events %v before any refusal for this attempt", kinds)
	}

	h.putRefusal(t, class, time.Now().UTC().Format(time.RFC3339Nano))
	ev := h.wait(t, a.Ref, engine.EventNoCapacity)
	want := "aws refused capacity (stockout): InsufficientInstanceCapacity in us-east-1a: We currently do not have sufficient capacity"
	if ev.Reason != want {
		t.Errorf("reason %q, want %q", ev.Reason, want)
	}
	job, _, err := h.client.Jobs().Info(JobID(a.Ref), nil)
	if err != nil || job.Stop == nil || !*job.Stop {
		t.Errorf("the waiting job should be stopped: %v", err)
	}
}

func (h *realHarness) putRefusal(t *testing.T, class, at string) {
	t.Helper()
	_, _, err := h.client.Variables().Create(&api.Variable{Path: naming.CapacityVariable(class), Items: api.VariableItems{
		naming.CapacityCloud: "aws", naming.CapacityKind: "stockout", naming.CapacityCode: "InsufficientInstanceCapacity",
		naming.CapacityZone: "us-east-1a", naming.CapacityMessage: "We currently do not have sufficient capacity",
		naming.CapacityTime: at,
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
