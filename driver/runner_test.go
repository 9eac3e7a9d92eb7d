package driver

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/driver/proc"
	"github.com/skynomad/skynomad/internal/syncbuf"
)

var pidRE = regexp.MustCompile(`pid=\d+`)

// normalize hides pids and sorts lines (stdout and stderr interleave).
func normalize(s string) []string {
	lines := strings.Split(strings.TrimSuffix(pidRE.ReplaceAllString(s, "pid=N"), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestRunner(t *testing.T, setup, run string, cfg func(*Config)) (*Runner, *syncbuf.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	c := Config{
		TaskName:   "mytask",
		NumNodes:   1,
		Workdir:    dir,
		ResultFile: filepath.Join(dir, "result.json"),
		PhaseFile:  filepath.Join(dir, "phase"),
		PGIDFile:   filepath.Join(dir, "user.pgid"),
		Grace:      10 * time.Second,
		LockFD:     -1,
	}
	if setup != "" {
		c.SetupFile = writeScript(t, dir, "setup.sh", setup)
	}
	if run != "" {
		c.RunFile = writeScript(t, dir, "run.sh", run)
	}
	if cfg != nil {
		cfg(&c)
	}
	out := &syncbuf.Buffer{}
	return &Runner{
		Config: c,
		Env:    []string{"PATH=" + os.Getenv("PATH"), "MARK=" + filepath.Join(dir, "mark"), "FROM_ENGINE=yes"},
		Stdout: out,
		Stderr: out,
	}, out, dir
}

func TestRunPhases(t *testing.T) {
	t.Parallel()
	ignoreTime := cmpopts.IgnoreFields(Result{}, "FinishedAt")
	tests := []struct {
		name       string
		setup, run string
		phase      Phase
		cfg        func(*Config)
		wantCode   int
		wantResult Result
		wantOutput []string
		wantPhase  string
	}{
		{
			name:       "setup then run",
			setup:      "echo installing\necho warn >&2\n",
			run:        "echo hello from $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES\necho \"$SKYPILOT_NODE_IPS\"\necho engine=$FROM_ENGINE setup_rank=${SKYPILOT_SETUP_NODE_RANK-unset}\necho cluster=$SKYPILOT_CLUSTER_INFO\nprintf 'no newline'",
			phase:      PhaseAll,
			cfg:        func(c *Config) { c.ClusterInfo = `{"cloud":"local"}` },
			wantResult: Result{Phase: PhaseRun},
			wantOutput: []string{
				"(setup pid=N) installing",
				"(setup pid=N) warn",
				"(mytask, pid=N) hello from 0 of 1",
				"(mytask, pid=N) 127.0.0.1",
				"(mytask, pid=N) engine=yes setup_rank=unset",
				`(mytask, pid=N) cluster={"cloud":"local"}`,
				"(mytask, pid=N) no newline",
			},
			wantPhase: "run",
		},
		{
			name:       "setup sees its variables",
			setup:      "echo rank=$SKYPILOT_SETUP_NODE_RANK ips=$SKYPILOT_SETUP_NODE_IPS\n",
			phase:      PhaseSetup,
			cfg:        func(c *Config) { c.NumNodes, c.NodeRank, c.NodeIPs = 2, 1, []string{"10.0.0.1", "10.0.0.2"} },
			wantResult: Result{Phase: PhaseSetup},
			wantOutput: []string{"(setup pid=N) rank=1 ips=10.0.0.1 10.0.0.2"},
			wantPhase:  "setup",
		},
		{
			name:       "worker prefix",
			run:        "echo $SKYPILOT_NODE_RANK\n",
			phase:      PhaseAll,
			cfg:        func(c *Config) { c.NumNodes, c.NodeRank = 3, 2 },
			wantResult: Result{Phase: PhaseRun},
			wantOutput: []string{"(worker2, rank=2, pid=N) 2"},
			wantPhase:  "run",
		},
		{
			name:       "run fails",
			setup:      "true\n",
			run:        "echo failing\nexit 7\n",
			phase:      PhaseAll,
			wantCode:   7,
			wantResult: Result{Phase: PhaseRun, ExitCode: 7},
			wantOutput: []string{"(mytask, pid=N) failing"},
			wantPhase:  "run",
		},
		{
			name:       "setup fails and run never starts",
			setup:      "echo setting up\nexit 3\n",
			run:        "touch \"$MARK\"\n",
			phase:      PhaseAll,
			wantCode:   3,
			wantResult: Result{Phase: PhaseSetup, ExitCode: 3},
			wantOutput: []string{"(setup pid=N) setting up"},
			wantPhase:  "setup",
		},
		{
			name:       "killed by a signal",
			run:        "kill -KILL $$\n",
			phase:      PhaseRun,
			wantCode:   137,
			wantResult: Result{Phase: PhaseRun, ExitCode: 137, Signal: "SIGKILL"},
			wantPhase:  "run",
		},
		{
			name:       "only run asked",
			setup:      "touch \"$MARK\"\n",
			run:        "echo ran\n",
			phase:      PhaseRun,
			wantResult: Result{Phase: PhaseRun},
			wantOutput: []string{"(mytask, pid=N) ran"},
			wantPhase:  "run",
		},
		{
			name:       "no scripts",
			phase:      PhaseAll,
			wantResult: Result{Phase: PhaseRun, Skipped: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, out, dir := newTestRunner(t, tt.setup, tt.run, tt.cfg)
			code := r.Run(context.Background(), tt.phase)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			got, err := ReadResult(r.Config.ResultFile)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantResult, got, ignoreTime); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got.FinishedAt.IsZero() {
				t.Error("result has no finished_at")
			}
			if diff := cmp.Diff(tt.wantOutput, normalize(out.String()), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			phase, _ := os.ReadFile(r.Config.PhaseFile)
			if got := strings.TrimSpace(string(phase)); got != tt.wantPhase {
				t.Errorf("phase file = %q, want %q", got, tt.wantPhase)
			}
			if _, err := os.Stat(filepath.Join(dir, "mark")); err == nil {
				t.Error("a script that must not run ran")
			}
		})
	}
}

func TestRunOutputOrderWithinStream(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRunner(t, "", "for i in 1 2 3 4 5; do echo line $i; done\n", nil)
	var stdout, stderr syncbuf.Buffer
	r.Stdout, r.Stderr = &stdout, &stderr
	if code := r.Run(context.Background(), PhaseAll); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	want := []string{"(mytask, pid=N) line 1", "(mytask, pid=N) line 2", "(mytask, pid=N) line 3", "(mytask, pid=N) line 4", "(mytask, pid=N) line 5"}
	if diff := cmp.Diff(want, normalize(stdout.String())); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if stderr.String() != "" {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}

func TestRunTerminate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		run   string
		grace time.Duration
		// notice, when > 0, is written as a deadline this far ahead.
		notice     time.Duration
		wantSignal string
		wantMark   bool
		// minTime/maxTime bound how long termination took.
		minTime, maxTime time.Duration
	}{
		{
			name:     "trap checkpoints and exits before the grace ends",
			run:      "trap 'echo saved > \"$MARK\"; exit 0' TERM\necho ready\nsleep 1000 &\nwait\n",
			grace:    10 * time.Second,
			wantMark: true,
			maxTime:  5 * time.Second,
		},
		{
			name:       "ignores SIGTERM and is killed after the grace",
			run:        "trap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n",
			grace:      300 * time.Millisecond,
			wantSignal: "SIGKILL",
			minTime:    300 * time.Millisecond,
			maxTime:    5 * time.Second,
		},
		{
			name:       "notice deadline replaces the grace",
			run:        "trap 'cat \"$SKYPILOT_PREEMPTION_DEADLINE_FILE\" > \"$MARK\"' TERM\necho ready\nwhile :; do sleep 0.05; done\n",
			grace:      time.Minute,
			notice:     2 * time.Second,
			wantSignal: "SIGKILL",
			wantMark:   true,
			minTime:    time.Second,
			maxTime:    10 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, out, dir := newTestRunner(t, "", tt.run, func(c *Config) {
				c.Grace = tt.grace
				c.NoticeFile = filepath.Join(t.TempDir(), "notice")
			})
			ctx, cancel := context.WithCancel(context.Background())
			codeCh := make(chan int, 1)
			go func() { codeCh <- r.Run(ctx, PhaseAll) }()
			waitFor(t, "the task to start", 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") })
			if tt.notice > 0 {
				if err := WriteNotice(r.Config.NoticeFile, time.Now().Add(tt.notice)); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			cancel()
			code := <-codeCh
			took := time.Since(start)
			if code != TerminatedExitCode {
				t.Errorf("exit code = %d, want %d", code, TerminatedExitCode)
			}
			if took < tt.minTime || took > tt.maxTime {
				t.Errorf("termination took %v, want between %v and %v", took, tt.minTime, tt.maxTime)
			}
			res, err := ReadResult(r.Config.ResultFile)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Terminated || res.Phase != PhaseRun || res.Signal != tt.wantSignal {
				t.Errorf("result = %+v, want terminated run with signal %q", res, tt.wantSignal)
			}
			_, err = os.Stat(filepath.Join(dir, "mark"))
			if gotMark := err == nil; gotMark != tt.wantMark {
				t.Errorf("checkpoint marker written = %v, want %v", gotMark, tt.wantMark)
			}
			assertGroupsGone(t, r.Config.PGIDFile)
		})
	}
}

func TestRunKillsLeftoversAtEnd(t *testing.T) {
	t.Parallel()
	r, _, dir := newTestRunner(t,
		"sleep 1000 &\necho $! > \"$MARK.setup\"\n",
		"test -e /proc/$(cat \"$MARK.setup\") || exit 9\nsleep 1000 &\necho $! > \"$MARK\"\n",
		func(c *Config) { c.Grace = 2 * time.Second })
	if code := r.Run(context.Background(), PhaseAll); code != 0 {
		t.Fatalf("exit code = %d, want 0 (the setup's background process must live during run)", code)
	}
	for _, f := range []string{"mark", "mark.setup"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if proc.Alive(pid, 0) {
			t.Errorf("background process %d (%s) outlived the runner", pid, f)
		}
	}
	assertGroupsGone(t, r.Config.PGIDFile)
}

func TestRunTerminatedBeforeStart(t *testing.T) {
	t.Parallel()
	r, _, dir := newTestRunner(t, "touch \"$MARK\"\n", "touch \"$MARK\"\n", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := r.Run(ctx, PhaseAll); code != TerminatedExitCode {
		t.Errorf("exit code = %d, want %d", code, TerminatedExitCode)
	}
	res, err := ReadResult(r.Config.ResultFile)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Terminated || res.Phase != PhaseSetup {
		t.Errorf("result = %+v, want a terminated setup", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "mark")); err == nil {
		t.Error("a phase ran after termination")
	}
}

func assertGroupsGone(t *testing.T, pgidFile string) {
	t.Helper()
	groups, err := ReadGroups(pgidFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatal("no process group recorded")
	}
	for _, g := range groups {
		if proc.GroupAlive(g) {
			t.Errorf("process group %d still has live processes", g)
		}
	}
}

func TestRunGate(t *testing.T) {
	t.Parallel()
	r, out, _ := newTestRunner(t, "echo set up\n", "echo running\n", func(c *Config) {
		c.RunGate = filepath.Join(t.TempDir(), "gate")
	})
	codeCh := make(chan int, 1)
	go func() { codeCh <- r.Run(context.Background(), PhaseAll) }()
	waitFor(t, "setup to end", 10*time.Second, func() bool {
		res, err := ReadResult(r.Config.ResultFile)
		return err == nil && res.Phase == PhaseSetup
	})
	// Give a runner that ignored the gate the time to show it.
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(out.String(), "running") {
		t.Fatal("the run phase started before the gate opened")
	}
	if err := os.WriteFile(r.Config.RunGate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := <-codeCh; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(out.String(), "running") {
		t.Errorf("the run phase did not run after the gate opened; output:\n%s", out.String())
	}
}

// On Nomad SKYNOMAD_WORKDIR points into the alloc dir, which nobody has
// created yet: the runner makes it, and both phases run there.
func TestRunCreatesWorkdir(t *testing.T) {
	t.Parallel()
	r, out, dir := newTestRunner(t, "pwd > \"$MARK.setup\"", "pwd", nil)
	r.Config.Workdir = filepath.Join(dir, "alloc", "sky_workdir")
	if code := r.Run(context.Background(), PhaseAll); code != 0 {
		t.Fatalf("Run = %d, output:\n%s", code, out.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "mark.setup"))
	if err != nil || strings.TrimSpace(string(got)) != r.Config.Workdir {
		t.Errorf("setup ran in %q (%v), want %q", got, err, r.Config.Workdir)
	}
	if !strings.Contains(out.String(), r.Config.Workdir) {
		t.Errorf("run did not print its workdir %q:\n%s", r.Config.Workdir, out.String())
	}
}
