package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		want    Info
		wantErr bool
	}{
		{
			name: "plain",
			line: "42 (bash) S 1 42 42 34816 42 4194304 1 0 0 0 7 3 0 0 20 0 1 0 123456 0 55",
			want: Info{PID: 42, PPID: 1, PGID: 42, SID: 42, State: 'S', StartTicks: 123456, UserTicks: 7, SystemTicks: 3, RSSPages: 55},
		},
		{
			name: "command name with spaces and parentheses",
			line: "7 (a b) (c)) Z 3 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0",
			want: Info{PID: 7, PPID: 3, PGID: 5, SID: 5, State: 'Z', StartTicks: 99},
		},
		{name: "truncated", line: "7 (x) S 1 2", wantErr: true},
		{name: "garbage", line: "hello", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStat([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("info (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLiveProcesses(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "1000")
	cmd.Env = []string{"MARKER=proc-test"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	info, err := Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if info.PID != pid || info.PGID != pid || info.PPID != os.Getpid() {
		t.Errorf("stat = %+v, want pid %d leading its group, child of %d", info, pid, os.Getpid())
	}
	if !Alive(pid, info.StartTicks) || !Alive(pid, 0) {
		t.Error("a running child is not alive")
	}
	if Alive(pid, info.StartTicks+1) {
		t.Error("a process with another start time counts as the recorded one")
	}
	if !GroupAlive(pid) {
		t.Error("the child's group is not alive")
	}
	if !HasEnv(pid, "MARKER=proc-test") || HasEnv(pid, "MARKER=proc") {
		t.Error("HasEnv does not match the exact entry")
	}
	found := false
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		found = found || p.PID == pid
	}
	if !found {
		t.Error("List misses the child")
	}

	// Killed but not reaped: a zombie is not alive.
	cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info, err := Stat(pid); err == nil && info.Zombie() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if Alive(pid, 0) || GroupAlive(pid) {
		t.Error("a zombie counts as alive")
	}
	cmd.Wait()
	if Alive(pid, 0) || GroupAlive(pid) {
		t.Error("a reaped process counts as alive")
	}
}
