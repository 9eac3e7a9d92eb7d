package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

const eventTimeout = 20 * time.Second

// ignoreEventDetails compares events by kind, phase, code and node.
var ignoreEventDetails = cmpopts.IgnoreFields(engine.Event{}, "Time", "Reason", "Deadline")

func TestLaunchSuccess(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := newTestAttempt("hello",
		"echo setting up in $(basename $PWD)\n",
		"echo rank=$SKYPILOT_NODE_RANK nodes=$SKYPILOT_NUM_NODES ips=$SKYPILOT_NODE_IPS\n"+
			"echo greeting=$GREETING secret=${TOKEN:+set} task=${SKYPILOT_TASK_ID%%_*}\n"+
			"echo cluster=$SKYPILOT_CLUSTER_INFO\n",
		1, "GREETING", "hi")
	at.Secrets = []task.EnvVar{{Name: "TOKEN", Value: "s3cr3t-value"}}
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e.rec.wait(t, engine.EventExited, eventTimeout)

	want := []engine.Event{
		{Ref: at.Ref, Kind: engine.EventPlaced, Node: "local"},
		{Ref: at.Ref, Kind: engine.EventSetupStarted, Phase: engine.PhaseSetup, Node: "local"},
		{Ref: at.Ref, Kind: engine.EventRunning, Phase: engine.PhaseRun, Node: "local"},
		{Ref: at.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 0, Node: "local"},
	}
	if diff := cmp.Diff(want, e.rec.all(), ignoreEventDetails); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantLogs := "(setup pid=N) setting up in sky_workdir\n" +
		"(hello, pid=N) rank=0 nodes=1 ips=127.0.0.1\n" +
		"(hello, pid=N) greeting=hi secret=set task=sky-managed-test\n" +
		`(hello, pid=N) cluster={"cluster_name":"sky-` + strconv.FormatInt(at.Ref.JobID, 10) + `-0","cloud":"local","region":"local","zone":null}` + "\n"
	if diff := cmp.Diff(wantLogs, normalize(readLogs(t, e, at.Ref, engine.LogOptions{}))); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	// Secrets reach the task only through its environment.
	filepath.WalkDir(e.attemptDir(at.Ref), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), "s3cr3t-value") {
				t.Errorf("the secret was written to %s", path)
			}
		}
		return nil
	})
	// A finished attempt can be stopped; nothing happens.
	if err := e.Stop(context.Background(), at.Ref); err != nil {
		t.Errorf("Stop of a finished attempt: %v", err)
	}
	if got := e.rec.kinds(); len(got) != 4 {
		t.Errorf("Stop of a finished attempt sent events: %v", got)
	}
}

func TestExits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup, run string
		nodes      int
		want       engine.Event
		wantKinds  []engine.EventKind
	}{
		{
			name:      "run exits 7",
			setup:     "true",
			run:       "echo about to fail\nexit 7",
			nodes:     1,
			want:      engine.Event{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 7},
			wantKinds: []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventExited},
		},
		{
			name:      "setup fails, run never starts",
			setup:     "echo installing\nexit 3",
			run:       "touch \"$MARK\"",
			nodes:     1,
			want:      engine.Event{Kind: engine.EventExited, Phase: engine.PhaseSetup, ExitCode: 3},
			wantKinds: []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventExited},
		},
		{
			name:      "no setup",
			run:       "exit 0",
			nodes:     1,
			want:      engine.Event{Kind: engine.EventExited, Phase: engine.PhaseRun},
			wantKinds: []engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventExited},
		},
		{
			name: "one of two nodes fails, the other is stopped",
			run: "if [ $SKYPILOT_NODE_RANK = 0 ]; then touch \"$READY\"; sleep 1000; fi\n" +
				"while [ ! -e \"$READY\" ]; do sleep 0.02; done\nexit 5",
			nodes:     2,
			want:      engine.Event{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 5},
			wantKinds: []engine.EventKind{engine.EventPlaced, engine.EventRunning, engine.EventExited},
		},
		{
			name:      "setup failure wins over a run failure",
			setup:     "if [ $SKYPILOT_SETUP_NODE_RANK = 1 ]; then sleep 0.3; exit 3; fi",
			run:       "exit 9",
			nodes:     2,
			want:      engine.Event{Kind: engine.EventExited, Phase: engine.PhaseSetup, ExitCode: 3},
			wantKinds: []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventExited},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEngine(t, "")
			mark := filepath.Join(t.TempDir(), "mark")
			at := newTestAttempt("job", tt.setup, tt.run, tt.nodes, "MARK", mark, "READY", mark+".ready")
			if err := e.Launch(context.Background(), at); err != nil {
				t.Fatal(err)
			}
			got := e.rec.wait(t, engine.EventExited, eventTimeout)
			tt.want.Ref, tt.want.Node = at.Ref, "local"
			if diff := cmp.Diff(tt.want, got, ignoreEventDetails); diff != "" {
				t.Errorf("exit (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds()); diff != "" {
				t.Errorf("event kinds (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(mark); err == nil {
				t.Error("the run phase ran after a failed setup")
			}
			if left := markedProcs(t, e, at.Ref); len(left) > 0 {
				t.Errorf("processes left after the attempt ended: %v", left)
			}
		})
	}
}

func TestTwoNodes(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := newTestAttempt("multi", "", "echo rank=$SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES\necho \"$SKYPILOT_NODE_IPS\"", 2)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e.rec.wait(t, engine.EventExited, eventTimeout)
	if ev.ExitCode != 0 || ev.Phase != engine.PhaseRun {
		t.Fatalf("exit = %+v, want success", ev)
	}
	want := "(multi, pid=N) rank=0 of 2\n(multi, pid=N) 127.0.0.1\n(multi, pid=N) 127.0.0.1\n" +
		"(worker1, rank=1, pid=N) rank=1 of 2\n(worker1, rank=1, pid=N) 127.0.0.1\n(worker1, rank=1, pid=N) 127.0.0.1\n"
	if diff := cmp.Diff(want, normalize(readLogs(t, e, at.Ref, engine.LogOptions{}))); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	tail := "(worker1, rank=1, pid=N) 127.0.0.1\n(worker1, rank=1, pid=N) 127.0.0.1\n"
	if diff := cmp.Diff(tail, normalize(readLogs(t, e, at.Ref, engine.LogOptions{Tail: 2}))); diff != "" {
		t.Errorf("tail 2 (-want +got):\n%s", diff)
	}
	tail = "(multi, pid=N) 127.0.0.1\n" + want[strings.Index(want, "(worker1"):]
	if diff := cmp.Diff(tail, normalize(readLogs(t, e, at.Ref, engine.LogOptions{Tail: 4}))); diff != "" {
		t.Errorf("tail 4 across nodes (-want +got):\n%s", diff)
	}
}

func TestStopKillsEverything(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := newTestAttempt("stoppable", "sleep 1000 &\n",
		"sleep 1000 &\nsleep 1000 &\nsetsid sleep 1000 >/dev/null 2>&1 &\necho ready\nwait\n", 2)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e.rec.wait(t, engine.EventRunning, eventTimeout)
	waitUntil(t, "both nodes ready", eventTimeout, func() bool {
		return strings.Count(readLogs(t, e, at.Ref, engine.LogOptions{}), "ready") == 2
	})
	// Per node: bash, setup's sleep, three sleeps (setsid's may still be
	// on its way when "ready" is printed); and the two runners.
	waitUntil(t, "10 processes of the attempt before Stop", eventTimeout, func() bool {
		return len(markedProcs(t, e, at.Ref)) >= 10
	})
	live := runners(t, e, at.Ref)
	if len(live) != 2 {
		t.Fatalf("runners %v, want 2", live)
	}
	start := time.Now()
	if err := e.Stop(context.Background(), at.Ref); err != nil {
		t.Fatal(err)
	}
	if left := markedProcs(t, e, at.Ref); len(left) > 0 {
		t.Errorf("processes alive after Stop: %v", left)
	}
	for _, pid := range live {
		if alive(pid) {
			t.Errorf("runner %d alive after Stop", pid)
		}
	}
	if took := time.Since(start); took > e.cfg.Grace {
		t.Errorf("Stop took %v; the task ends on SIGTERM, so it should not wait the grace (%v)", took, e.cfg.Grace)
	}
	ev := e.rec.wait(t, engine.EventStopped, eventTimeout)
	if ev.Ref != at.Ref {
		t.Errorf("stopped event for %v", ev.Ref)
	}
	for _, k := range e.rec.kinds() {
		if k == engine.EventExited || k == engine.EventPreempted {
			t.Errorf("Stop also reported %s", k)
		}
	}
	// Stopping again, or stopping an unknown attempt, is not an error.
	if err := e.Stop(context.Background(), at.Ref); err != nil {
		t.Error(err)
	}
	if err := e.Stop(context.Background(), engine.Ref{JobID: 999999, Attempt: 1}); err != nil {
		t.Error(err)
	}
}

func TestStopAfterGrace(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	e.cfg.Grace = 300 * time.Millisecond
	at := newTestAttempt("stubborn", "", "trap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n", 1)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task to start", eventTimeout, logsContain(t, e, at.Ref, "ready"))
	start := time.Now()
	if err := e.Stop(context.Background(), at.Ref); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < e.cfg.Grace {
		t.Errorf("Stop took %v, less than the grace %v given to the task", took, e.cfg.Grace)
	}
	if left := markedProcs(t, e, at.Ref); len(left) > 0 {
		t.Errorf("processes alive after Stop: %v", left)
	}
	e.rec.wait(t, engine.EventStopped, eventTimeout)
}

func TestPreemptWithNotice(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	ckpt := filepath.Join(t.TempDir(), "checkpoint")
	at := newTestAttempt("spot", "",
		"trap 'echo saved > \"$CKPT\"; cp \"$SKYPILOT_PREEMPTION_DEADLINE_FILE\" \"$CKPT.deadline\"; exit 0' TERM\n"+
			"echo ready\nsleep 1000 &\nwait\n", 1, "CKPT", ckpt)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task to start", eventTimeout, logsContain(t, e, at.Ref, "ready"))
	if err := e.Preempt(context.Background(), at.Ref, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	notice := e.rec.wait(t, engine.EventPreemptionNotice, eventTimeout)
	e.rec.wait(t, engine.EventPreempted, eventTimeout)
	if notice.Deadline.IsZero() {
		t.Error("the notice has no deadline")
	}
	if b, err := os.ReadFile(ckpt); err != nil || string(b) != "saved\n" {
		t.Errorf("checkpoint = %q, %v; want the task's trap to have saved", b, err)
	}
	b, err := os.ReadFile(ckpt + ".deadline")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err != nil || !got.Equal(notice.Deadline) {
		t.Errorf("deadline file = %q, want %v", b, notice.Deadline)
	}
	for _, k := range e.rec.kinds() {
		if k == engine.EventExited {
			t.Error("a preempted attempt was reported as exited")
		}
	}
	if left := markedProcs(t, e, at.Ref); len(left) > 0 {
		t.Errorf("processes alive after the preemption: %v", left)
	}
}

func TestPreemptNoticeDeadline(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := newTestAttempt("spot", "", "trap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n", 1)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task to start", eventTimeout, logsContain(t, e, at.Ref, "ready"))
	start := time.Now()
	notice := 500 * time.Millisecond
	if err := e.Preempt(context.Background(), at.Ref, notice); err != nil {
		t.Fatal(err)
	}
	e.rec.wait(t, engine.EventPreempted, eventTimeout)
	if took := time.Since(start); took < notice-50*time.Millisecond {
		t.Errorf("killed after %v, before the %v notice ran out", took, notice)
	}
	if left := markedProcs(t, e, at.Ref); len(left) > 0 {
		t.Errorf("processes alive after the preemption: %v", left)
	}
}

func TestPreemptWithoutNotice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newTestEngine(t, dir)
	at := newTestAttempt("spot", "", "trap 'touch \"$MARK\"' TERM\necho ready\nsleep 1000 &\nwait\n", 2, "MARK", filepath.Join(dir, "mark"))
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task to start", eventTimeout, logsContain(t, e, at.Ref, "ready"))
	if err := e.Preempt(context.Background(), at.Ref, 0); err != nil {
		t.Fatal(err)
	}
	if left := markedProcs(t, e, at.Ref); len(left) > 0 {
		t.Errorf("processes alive after Preempt: %v", left)
	}
	ev := e.rec.wait(t, engine.EventPreempted, eventTimeout)
	if ev.Reason != "preempted by fault injection" {
		t.Errorf("reason = %q", ev.Reason)
	}
	if _, err := os.Stat(filepath.Join(dir, "mark")); err == nil {
		t.Error("the task got a SIGTERM; a preemption without notice gives none")
	}
	// A restarted controller learns the same end.
	e.Close()
	e2 := newTestEngine(t, dir)
	if err := e2.Resume(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.Event{ev}, e2.rec.all()); diff != "" {
		t.Errorf("events after Resume (-want +got):\n%s", diff)
	}
}

func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e1 := newTestEngine(t, dir)
	goFile := filepath.Join(dir, "go")
	at := newTestAttempt("long", "", "echo started\nwhile [ ! -e \"$GO\" ]; do sleep 0.02; done\nexit 4\n", 1, "GO", goFile)
	if err := e1.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e1.rec.wait(t, engine.EventRunning, eventTimeout)
	e1.Close() // the controller goes away; the task keeps running

	e2 := newTestEngine(t, dir)
	if err := e2.Resume(context.Background(), &engine.Attempt{Ref: engine.Ref{JobID: at.Ref.JobID, Attempt: 9}}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Resume of an unknown attempt = %v, want ErrNotFound", err)
	}
	if err := e2.Resume(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e2.rec.wait(t, engine.EventRunning, eventTimeout)
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := e2.rec.wait(t, engine.EventExited, eventTimeout)
	want := engine.Event{Ref: at.Ref, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 4, Node: "local"}
	if diff := cmp.Diff(want, got, ignoreEventDetails); diff != "" {
		t.Errorf("exit (-want +got):\n%s", diff)
	}
	for _, k := range e1.rec.kinds() {
		if k == engine.EventExited {
			t.Error("the closed engine still reported the exit")
		}
	}
}

func TestResumeVanishedRunner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e1 := newTestEngine(t, dir)
	at := newTestAttempt("doomed", "", "echo ready\nsleep 1000\n", 1)
	if err := e1.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task to start", eventTimeout, logsContain(t, e1, at.Ref, "ready"))
	e1.Close()
	// The host kills everything while no controller watches.
	e1.killAll(context.Background(), &attempt{dir: e1.attemptDir(at.Ref), nodes: 1})

	e2 := newTestEngine(t, dir)
	if err := e2.Resume(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e2.rec.wait(t, engine.EventPreempted, eventTimeout)
	if !strings.Contains(ev.Reason, "vanished") {
		t.Errorf("reason = %q, want a vanished runner", ev.Reason)
	}
}

func TestLaunchIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newTestEngine(t, dir)
	goFile := filepath.Join(dir, "go")
	at := newTestAttempt("once", "", "echo run >> \"$COUNT.$SKYPILOT_NODE_RANK\"\nwhile [ ! -e \"$GO\" ]; do sleep 0.02; done\n", 1,
		"GO", goFile, "COUNT", filepath.Join(dir, "count"))
	for range 2 {
		if err := e.Launch(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	e.rec.wait(t, engine.EventRunning, eventTimeout)
	if got := runners(t, e, at.Ref); len(got) != 1 {
		t.Errorf("runners after two launches: %v, want one", got)
	}
	os.WriteFile(goFile, nil, 0o644)
	e.rec.wait(t, engine.EventExited, eventTimeout)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "count.0")); string(b) != "run\n" {
		t.Errorf("the task ran %d times", strings.Count(string(b), "run"))
	}
	placed := 0
	for _, k := range e.rec.kinds() {
		if k == engine.EventPlaced {
			placed++
		}
	}
	if placed != 1 {
		t.Errorf("%d placed events, want 1", placed)
	}
}

func TestLaunchAfterCrashMidLaunch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e1 := newTestEngine(t, dir)
	goFile := filepath.Join(dir, "go")
	at := newTestAttempt("half", "", "echo run >> \"$COUNT.$SKYPILOT_NODE_RANK\"\nwhile [ ! -e \"$GO\" ]; do sleep 0.02; done\n", 2,
		"GO", goFile, "COUNT", filepath.Join(dir, "count"))
	if err := e1.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e1.rec.wait(t, engine.EventRunning, eventTimeout)
	e1.Close()
	// Make it look as if the controller crashed before starting node 1.
	node1 := e1.attemptDir(at.Ref) + "/node-1"
	p, ok := readRunnerPID(node1)
	if !ok {
		t.Fatal("no runner pid for node 1")
	}
	signalProcess(p, 9)
	waitUntil(t, "node 1's runner to end", eventTimeout, func() bool { return !lockHeld(node1 + "/" + lockFile) })
	for _, f := range []string{phaseFile, resultFile} {
		os.Remove(node1 + "/" + f) // a runner that never started leaves none
	}
	before := runners(t, e1, at.Ref)
	if len(before) != 1 {
		t.Fatalf("runners before the second launch: %v, want node 0's only", before)
	}

	e2 := newTestEngine(t, dir)
	if err := e2.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node 1 to start again", eventTimeout, func() bool { return len(runners(t, e2, at.Ref)) == 2 })
	if got := runners(t, e2, at.Ref); !slices.Contains(got, before[0]) {
		t.Errorf("node 0's runner %d was replaced: %v", before[0], got)
	}
	os.WriteFile(goFile, nil, 0o644)
	ev := e2.rec.wait(t, engine.EventExited, eventTimeout)
	if ev.ExitCode != 0 {
		t.Errorf("exit = %+v", ev)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "count.0")); string(b) != "run\n" {
		t.Errorf("node 0 ran %d times", strings.Count(string(b), "run"))
	}
}

// A controller that dies while a launch prepares the sandboxes leaves an
// attempt on disk whose runners never started. Resuming it finishes the
// launch under the same attempt: no preemption is reported and the task
// runs once.
func TestResumeFinishesALaunchCutShort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e1 := newTestEngine(t, dir)
	count := filepath.Join(dir, "count")
	at := newTestAttempt("cut", "", "echo run >> \"$COUNT.$SKYPILOT_NODE_RANK\"\n", 2, "COUNT", count)
	adir := e1.attemptDir(at.Ref)
	// What Launch had written when the controller died: the attempt record
	// and a half-copied sandbox of node 0.
	if err := os.MkdirAll(filepath.Join(adir, "node-0", workdirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeAttempt(adir, at); err != nil {
		t.Fatal(err)
	}
	e1.Close()

	e2 := newTestEngine(t, dir)
	if err := e2.Resume(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e2.rec.wait(t, engine.EventExited, eventTimeout)
	if ev.ExitCode != 0 || ev.Phase != engine.PhaseRun {
		t.Errorf("end = %+v, want run exited 0", ev)
	}
	if slices.Contains(e2.rec.kinds(), engine.EventPreempted) {
		t.Errorf("events %v: a launch cut short was reported as a preemption", e2.rec.kinds())
	}
	for rank := range 2 {
		if b, _ := os.ReadFile(fmt.Sprintf("%s.%d", count, rank)); string(b) != "run\n" {
			t.Errorf("node %d ran %q, want once", rank, b)
		}
	}
}

func TestWorkdirCopy(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "data.txt"), []byte("payload\n"), 0o644)
	os.WriteFile(filepath.Join(src, "tool.sh"), []byte("echo tool ran\n"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(src, "outside"))
	os.Symlink("sub/data.txt", filepath.Join(src, "inside"))
	at := newTestAttempt("wd", "", "cat sub/data.txt\n./tool.sh\nreadlink outside\ncat inside\n", 1)
	at.Task.Workdir = &task.Workdir{Path: src}
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if ev := e.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Fatalf("exit = %+v; logs:\n%s", ev, readLogs(t, e, at.Ref, engine.LogOptions{}))
	}
	want := "(wd, pid=N) payload\n(wd, pid=N) tool ran\n(wd, pid=N) /etc/passwd\n(wd, pid=N) payload\n"
	if diff := cmp.Diff(want, normalize(readLogs(t, e, at.Ref, engine.LogOptions{}))); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	fi, err := os.Lstat(filepath.Join(e.attemptDir(at.Ref), "node-0", workdirName, "outside"))
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("a symlink out of the workdir was followed (%v, %v)", fi, err)
	}

	bad := newTestAttempt("wd", "", "true", 1)
	bad.Task.Workdir = &task.Workdir{Path: filepath.Join(src, "missing")}
	if err := e.Launch(context.Background(), bad); !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "copy workdir") {
		t.Errorf("Launch with a missing workdir = %v, want an infeasible launch (no retry can fix it)", err)
	}
	if err := e.Resume(context.Background(), bad); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Resume of a launch that failed before starting anything = %v, want ErrNotFound", err)
	}
}

// Local file mounts are present where the task expects them: a link at an
// absolute destination (removed when the attempt ends) and a copy inside
// the workdir for a relative one. The task's writes never reach the source.
func TestLocalFileMounts(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "one.txt"), []byte("one\n"), 0o644)
	os.MkdirAll(filepath.Join(src, "dir"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "two.txt"), []byte("two\n"), 0o644)
	host := t.TempDir()
	fileDest, dirDest := filepath.Join(host, "data", "one.txt"), filepath.Join(host, "dir")
	at := newTestAttempt("mounts", "", "cat "+fileDest+" "+dirDest+"/two.txt rel/two.txt\necho $SKYPILOT_NODE_RANK >> "+dirDest+"/new.txt\n", 2)
	at.Task.Mounts = []task.Mount{
		{Dest: fileDest, Source: filepath.Join(src, "one.txt")},
		{Dest: dirDest, Source: filepath.Join(src, "dir")},
		{Dest: "rel", Source: filepath.Join(src, "dir")},
	}
	if err := e.Check(at.Task); err != nil {
		t.Fatalf("Check refused local mounts: %v", err)
	}
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if ev := e.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Fatalf("exit = %+v; logs:\n%s", ev, readLogs(t, e, at.Ref, engine.LogOptions{}))
	}
	want := "(mounts, pid=N) one\n(mounts, pid=N) two\n(mounts, pid=N) two\n" +
		"(worker1, rank=1, pid=N) one\n(worker1, rank=1, pid=N) two\n(worker1, rank=1, pid=N) two\n"
	if diff := cmp.Diff(want, normalize(readLogs(t, e, at.Ref, engine.LogOptions{}))); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(src, "dir", "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the task wrote through to the mount's source (%v)", err)
	}
	for _, p := range []string{fileDest, dirDest} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the attempt ended (%v)", p, err)
		}
	}

	// A destination that exists and is not the engine's is never replaced.
	os.WriteFile(filepath.Join(host, "taken"), []byte("mine\n"), 0o644)
	taken := newTestAttempt("taken", "", "true", 1)
	taken.Task.Mounts = []task.Mount{{Dest: filepath.Join(host, "taken"), Source: filepath.Join(src, "one.txt")}}
	err := e.Launch(context.Background(), taken)
	if !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Launch over an existing file = %v, want an infeasible launch saying it exists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "taken")); string(b) != "mine\n" {
		t.Errorf("the existing file was changed: %q", b)
	}

	// Buckets reach the task through the job-files bucket (the runner
	// mounts them, Attempt.Files): an attempt without it is refused.
	noFiles := newTestAttempt("b", "", "true", 1)
	noFiles.Task.Mounts = []task.Mount{{Dest: filepath.Join(host, "ckpt"), BucketName: "ckpt", Mode: task.MountModeMount}}
	if err := e.Launch(context.Background(), noFiles); !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "job-files bucket") {
		t.Errorf("Launch of a bucket mount without the job-files bucket = %v, want an infeasible launch naming it", err)
	}
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newTestEngine(t, dir)
	goFile := filepath.Join(dir, "go")
	at := newTestAttempt("follow", "", "echo first\nwhile [ ! -e \"$GO\" ]; do sleep 0.02; done\necho second\n", 1, "GO", goFile)
	if _, err := e.Logs(context.Background(), at.Ref, engine.LogOptions{}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Logs before launch = %v, want ErrNotFound", err)
	}
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	rc, err := e.Logs(context.Background(), at.Ref, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		var buf []byte
		b := make([]byte, 4096)
		for {
			n, err := rc.Read(b)
			buf = append(buf, b[:n]...)
			for {
				i := strings.IndexByte(string(buf), '\n')
				if i < 0 {
					break
				}
				lines <- normalize(string(buf[:i]))
				buf = buf[i+1:]
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case err := <-errc:
			t.Fatalf("follow ended early: %v", err)
		case <-time.After(eventTimeout):
			t.Fatal("no log line")
		}
		return ""
	}
	if got := next(); got != "(follow, pid=N) first" {
		t.Errorf("first line = %q", got)
	}
	os.WriteFile(goFile, nil, 0o644)
	if got := next(); got != "(follow, pid=N) second" {
		t.Errorf("second line = %q", got)
	}
	select {
	case err := <-errc:
		if err != io.EOF {
			t.Errorf("follow ended with %v, want EOF", err)
		}
	case <-time.After(eventTimeout):
		t.Error("follow did not end with the attempt")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	qty := func(v float64, atLeast bool) *task.Quantity { return &task.Quantity{Value: v, AtLeast: atLeast} }
	tests := []struct {
		name  string
		cands []task.Resources
		want  string // "" = feasible
	}{
		{name: "nothing asked", cands: nil},
		{name: "fits", cands: []task.Resources{{CPUs: qty(2, true), Memory: qty(8, false), Infra: task.Infra{Cloud: "local"}}}},
		{name: "any infra", cands: []task.Resources{{Infra: task.Infra{Cloud: "*"}}}},
		{name: "gpus", cands: []task.Resources{{Accelerators: []task.Accelerator{{Name: "A100", Count: 8}}}},
			want: "this host has no GPUs; the task asks for A100:8"},
		{name: "cpus", cands: []task.Resources{{CPUs: qty(8, true)}}, want: "this host has 4 CPUs; the task asks for 8+"},
		{name: "memory", cands: []task.Resources{{Memory: qty(32, true)}}, want: "this host has 16 GB of memory; the task asks for 32+ GB"},
		{name: "docker", cands: []task.Resources{{ImageID: "docker:python:3.12-slim"}},
			want: "the local engine runs tasks as processes on this host and cannot run docker images; the task asks for image_id docker:python:3.12-slim (use a Nomad cluster with the docker driver)"},
		{name: "cloud", cands: []task.Resources{{Infra: task.Infra{Cloud: "aws", Region: "us-east-1"}}},
			want: "the local engine runs on this host only; the task asks for infra aws/us-east-1 (use infra: local, or leave infra out)"},
		{name: "instance type", cands: []task.Resources{{InstanceType: "p3.2xlarge"}},
			want: "the local engine has no instance types; the task asks for instance_type p3.2xlarge"},
		{name: "one candidate fits", cands: []task.Resources{{Accelerators: []task.Accelerator{{Name: "H100", Count: 1}}}, {CPUs: qty(1, false)}}},
		{name: "no candidate fits", cands: []task.Resources{{Accelerators: []task.Accelerator{{Name: "H100", Count: 1}}}, {Accelerators: []task.Accelerator{{Name: "A100-80GB", Count: 0.5}}}},
			want: "no resource request of the task fits this host: this host has no GPUs; the task asks for H100:1; this host has no GPUs; the task asks for A100-80GB:0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := e.Check(task.Task{Name: "t", Candidates: tt.cands})
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check = %v, want feasible", err)
				}
				return
			}
			if !engine.IsInfeasible(err) || err.Error() != tt.want {
				t.Errorf("Check = %v\nwant infeasible: %s", err, tt.want)
			}
		})
	}
}

func TestOfferings(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	got, err := e.Offerings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.Offering{{Cloud: "local", Region: "local", InstanceType: "local", VCPUs: 4, MemoryGB: 16}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offerings (-want +got):\n%s", diff)
	}
	if e.Name() != "local" {
		t.Errorf("Name = %q", e.Name())
	}
}

func TestOutcomeNamesTheCause(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	res := func(ph driver.Phase, code int, terminated bool, at time.Duration) *driver.Result {
		return &driver.Result{Phase: ph, ExitCode: code, Terminated: terminated, FinishedAt: t0.Add(at)}
	}
	node := func(r *driver.Result) nodeState { return nodeState{launched: true, result: r} }
	tests := []struct {
		name  string
		nodes []nodeState
		want  engine.Event
	}{
		{"rank 1's runner vanished; rank 0 was torn down after it",
			[]nodeState{node(res(driver.PhaseRun, 143, true, 2*time.Second)), node(nil)},
			engine.Event{Kind: engine.EventPreempted, Time: t0.Add(2 * time.Second), Reason: "runner vanished (rank 1)"}},
		{"rank 1 was terminated first, then rank 0 by the tear-down",
			[]nodeState{node(res(driver.PhaseRun, 143, true, 3*time.Second)), node(res(driver.PhaseRun, 143, true, time.Second))},
			engine.Event{Kind: engine.EventPreempted, Time: t0.Add(3 * time.Second), Reason: "runner of rank 1 was terminated from outside skynomad"}},
		{"success ends when the last node finished",
			[]nodeState{node(res(driver.PhaseRun, 0, false, time.Second)), node(res(driver.PhaseRun, 0, false, 4*time.Second))},
			engine.Event{Kind: engine.EventExited, Time: t0.Add(4 * time.Second), Phase: engine.PhaseRun, Reason: "succeeded"}},
		{"a setup failure wins over a run failure",
			[]nodeState{node(res(driver.PhaseRun, 3, false, time.Second)), node(res(driver.PhaseSetup, 5, false, 2*time.Second))},
			engine.Event{Kind: engine.EventExited, Time: t0.Add(2 * time.Second), Phase: engine.PhaseSetup, ExitCode: 5,
				Reason: "setup exited with code 5 on rank 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, outcome(tt.nodes)); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// An attempt that ended while no engine watched it (the controller was
// down) is reported with the time it ended, not the time it was found.
func TestResumeKeepsTheRealEndTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e1 := newTestEngine(t, dir)
	at := newTestAttempt("late", "", "true", 1)
	if err := e1.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	e1.Close()
	node := filepath.Join(e1.attemptDir(at.Ref), "node-0")
	result := filepath.Join(node, resultFile)
	waitUntil(t, "the runner to end", eventTimeout, func() bool { return exists(result) && !lockHeld(filepath.Join(node, lockFile)) })
	r, err := driver.ReadResult(result)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	e2 := newTestEngine(t, dir)
	if err := e2.Resume(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e2.rec.wait(t, engine.EventExited, eventTimeout)
	if !ev.Time.Equal(r.FinishedAt) {
		t.Errorf("end reported at %s, want the run's end %s", ev.Time, r.FinishedAt)
	}
}

// Ended attempts beyond the newest KeepAttempts lose their sandboxes but
// keep their logs; attempts still running are never touched.
func TestPruneKeepsTheNewestSandboxes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	te := newTestEngine(t, dir, func(c *Config) { c.KeepAttempts = 1 })
	e := te.Engine
	goFile := filepath.Join(dir, "go")
	live := newTestAttempt("live", "", "while [ ! -e \"$GO\" ]; do sleep 0.02; done\n", 1, "GO", goFile)
	if err := e.Launch(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	var ended []*engine.Attempt
	for i := range 3 {
		at := newTestAttempt("short", "", "echo done "+strconv.Itoa(i), 1)
		if err := e.Launch(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the attempt to end", eventTimeout, func() bool { return exists(filepath.Join(e.attemptDir(at.Ref), eventFile)) })
		time.Sleep(20 * time.Millisecond) // distinct end times
		ended = append(ended, at)
	}
	workdir := func(at *engine.Attempt) string { return filepath.Join(e.attemptDir(at.Ref), "node-0", workdirName) }
	waitUntil(t, "the two oldest sandboxes to go", eventTimeout, func() bool {
		return !exists(workdir(ended[0])) && !exists(workdir(ended[1]))
	})
	if !exists(workdir(ended[2])) {
		t.Error("the newest ended attempt lost its sandbox")
	}
	if !exists(workdir(live)) {
		t.Error("a running attempt lost its sandbox")
	}
	if got := normalize(readLogs(t, te, ended[0].Ref, engine.LogOptions{})); got != "(short, pid=N) done 0\n" {
		t.Errorf("logs of a pruned attempt = %q", got)
	}
}

// Phase changes and ends reach the sink as they happen, for runners this
// engine started and for runners it re-attached to after a restart: with
// polling set to an hour, every event still comes.
func TestEventsWithoutPolling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hour := func(c *Config) { c.PollInterval = time.Hour }
	e1 := newTestEngine(t, dir, hour)
	at := newTestAttempt("fast", "echo setup", "echo run", 2)
	if err := e1.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if ev := e1.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Fatalf("end = %+v", ev)
	}
	want := []engine.EventKind{engine.EventPlaced, engine.EventSetupStarted, engine.EventRunning, engine.EventExited}
	if diff := cmp.Diff(want, e1.rec.kinds()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	goFile := filepath.Join(dir, "go")
	held := newTestAttempt("held", "", "while [ ! -e \"$GO\" ]; do sleep 0.01; done\n", 1, "GO", goFile)
	if err := e1.Launch(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	e1.rec.wait(t, engine.EventRunning, eventTimeout)
	e1.Close()
	e2 := newTestEngine(t, dir, hour)
	if err := e2.Resume(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	e2.rec.wait(t, engine.EventRunning, eventTimeout)
	os.WriteFile(goFile, nil, 0o644)
	if ev := e2.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Errorf("end of the re-attached attempt = %+v", ev)
	}
}
