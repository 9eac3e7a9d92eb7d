package taskdriver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver"
)

// TestEndEventAndExitClassification: the event names the phase that ended
// the task and how, from the runner's result file; the exit code of a task
// whose runner ended unwatched comes from the same file.
func TestEndEventAndExitClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		phase    driver.Phase // of the task
		result   *driver.Result
		exit     drivers.ExitResult
		wantMsg  string
		wantAnn  map[string]string
		wantCode int // resultOf's exit code, for a runner that ended unwatched
	}{
		{"run succeeded", driver.PhaseRun, &driver.Result{Phase: driver.PhaseRun}, drivers.ExitResult{},
			"SkyPilot run succeeded", map[string]string{"phase": "run", "exit_code": "0"}, 0},
		{"setup failed in an all-phases task", driver.PhaseAll, &driver.Result{Phase: driver.PhaseSetup, ExitCode: 3}, drivers.ExitResult{ExitCode: 3},
			"SkyPilot setup failed with exit code 3", map[string]string{"phase": "setup", "exit_code": "3"}, 3},
		{"run failed", driver.PhaseRun, &driver.Result{Phase: driver.PhaseRun, ExitCode: 1}, drivers.ExitResult{ExitCode: 1},
			"SkyPilot run failed with exit code 1", map[string]string{"phase": "run", "exit_code": "1"}, 1},
		{"terminated", driver.PhaseRun, &driver.Result{Phase: driver.PhaseRun, ExitCode: 143, Terminated: true}, drivers.ExitResult{ExitCode: 143},
			"SkyPilot run terminated", map[string]string{"phase": "run", "exit_code": "143", "terminated": "true"}, 143},
		{"runner killed", driver.PhaseSetup, nil, drivers.ExitResult{ExitCode: 137, Signal: 9},
			"SkyPilot setup killed by signal 9", map[string]string{"phase": "setup", "exit_code": "137", "signal": "9"}, driver.TerminatedExitCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := TaskState{Phase: string(tc.phase), StateDir: t.TempDir()}
			if tc.result != nil {
				tc.result.FinishedAt = time.Now()
				if err := driver.WriteResult(s.resultFile(), *tc.result); err != nil {
					t.Fatal(err)
				}
			}
			msg, ann := endEvent(s, &tc.exit)
			if msg != tc.wantMsg {
				t.Errorf("message %q, want %q", msg, tc.wantMsg)
			}
			if diff := cmp.Diff(tc.wantAnn, ann); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			r := resultOf(s)
			if r.ExitCode != tc.wantCode || (tc.result == nil) != (r.Err != nil) {
				t.Errorf("resultOf: %+v, want exit %d (an error only without a result)", r, tc.wantCode)
			}
		})
	}
}

func TestResultOfAnAllPhasesRunnerThatStoppedAfterSetup(t *testing.T) {
	t.Parallel()
	s := TaskState{Phase: string(driver.PhaseAll), StateDir: t.TempDir()}
	if err := driver.WriteResult(s.resultFile(), driver.Result{Phase: driver.PhaseSetup}); err != nil {
		t.Fatal(err)
	}
	if r := resultOf(s); r.Err == nil {
		t.Errorf("resultOf = %+v: a runner gone between setup and run is not a success", r)
	}
}

func TestCgroupSampleAndUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.current", "52428800\n")
	write("cpu.stat", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 0\n")
	prev, ok := cgroupSample(dir)
	if !ok || prev.rss != 50<<20 || prev.user != 2*time.Second || prev.sys != time.Second {
		t.Fatalf("sample %+v, %v", prev, ok)
	}
	cur := prev
	cur.at = prev.at.Add(2 * time.Second)
	cur.user += time.Second    // half a core over 2 s
	cur.sys += time.Second / 2 // a quarter
	u := usage(prev, cur)
	cpu, mem := u.ResourceUsage.CpuStats, u.ResourceUsage.MemoryStats
	if cpu.UserMode != 50 || cpu.SystemMode != 25 || cpu.Percent != 75 {
		t.Errorf("cpu user %.1f%% system %.1f%% total %.1f%%, want 50, 25, 75", cpu.UserMode, cpu.SystemMode, cpu.Percent)
	}
	if mem.RSS != 50<<20 || mem.Usage != 50<<20 {
		t.Errorf("memory rss %d usage %d, want 50 MiB", mem.RSS, mem.Usage)
	}
	if _, ok := cgroupSample(filepath.Join(dir, "gone")); ok {
		t.Error("a missing cgroup gave a sample")
	}
}
