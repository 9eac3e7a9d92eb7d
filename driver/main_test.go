package driver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// envRunAsDriver makes the test binary act as `skynomad driver`.
const envRunAsDriver = "SKYNOMAD_TEST_AS_DRIVER"

func TestMain(m *testing.M) {
	if os.Getenv(envRunAsDriver) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr, nil))
	}
	os.Exit(m.Run())
}

// startDriver runs the test binary as the driver with output to a file.
func startDriver(t *testing.T, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "output.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(self, args...)
	cmd.Env = append([]string{envRunAsDriver + "=1", "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, logPath
}

func TestMainSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := writeScript(t, dir, "run.sh", "trap 'echo got TERM; exit 5' TERM\necho ready\nsleep 1000 &\nwait\n")
	result := filepath.Join(dir, "result.json")
	cmd, logPath := startDriver(t, []string{
		"SKYNOMAD_RUN_FILE=" + run,
		"SKYNOMAD_TASK_NAME=train",
		"SKYNOMAD_RESULT_FILE=" + result,
		"SKYNOMAD_PGID_FILE=" + filepath.Join(dir, "user.pgid"),
		"SKYNOMAD_WORKDIR=" + dir,
	}, "--phase", "run")
	waitFor(t, "the task to start", 10*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "ready")
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != TerminatedExitCode {
		t.Fatalf("driver ended with %v, want exit code %d", err, TerminatedExitCode)
	}
	b, _ := os.ReadFile(logPath)
	if diff := cmp.Diff([]string{"(train, pid=N) ready", "(train, pid=N) got TERM"}, normalize(string(b))); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	res, err := ReadResult(result)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Terminated || res.ExitCode != 5 || res.Phase != PhaseRun {
		t.Errorf("result = %+v, want a terminated run that exited 5", res)
	}
	assertGroupsGone(t, filepath.Join(dir, "user.pgid"))
}

func TestMainExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	setupOK := writeScript(t, dir, "ok.sh", "true\n")
	fail := writeScript(t, dir, "fail.sh", "exit 4\n")
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    int
		wantErr string
	}{
		{name: "run fails", args: []string{"--phase", "all"}, env: []string{"SKYNOMAD_SETUP_FILE=" + setupOK, "SKYNOMAD_RUN_FILE=" + fail}, want: 4},
		{name: "setup fails", args: []string{"--phase=setup"}, env: []string{"SKYNOMAD_SETUP_FILE=" + fail}, want: 4},
		{name: "nothing to do", args: nil, env: nil, want: 0},
		{name: "bad phase", args: []string{"--phase", "both"}, want: 2, wantErr: `skynomad driver: --phase "both": want setup, run or all`},
		{name: "bad config", env: []string{"SKYNOMAD_NUM_NODES=-1"}, want: 2, wantErr: `skynomad driver: SKYNOMAD_NUM_NODES="-1": want a positive integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			got := Main(context.Background(), tt.args, tt.env, &stdout, &stderr, nil)
			if got != tt.want {
				t.Errorf("Main = %d, want %d (stderr %q)", got, tt.want, stderr.String())
			}
			if tt.wantErr != "" && strings.TrimSpace(stderr.String()) != tt.wantErr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}
