package local

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// groupAttempt is a job group's attempt of the given members, as
// engine.NewAttempt builds it.
func groupAttempt(name string, isolated bool, members ...engine.Member) *engine.Attempt {
	at := newTestAttempt(name, "", "", 1)
	at.Group, at.Members, at.Isolated = name, members, isolated
	at.Task = members[0].Task
	return at
}

func member(name, run string, primary bool, delay time.Duration) engine.Member {
	return engine.Member{Task: task.Task{Name: name, NumNodes: 1, Run: run}, Primary: primary, TerminationDelay: delay}
}

// The primary member's success ends the group: the auxiliary member, which
// would run forever, is stopped once its delay has passed, and the
// attempt succeeds.
func TestJobGroupEndsWithItsPrimaryMember(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := groupAttempt("pair", false,
		member("server", "trap 'echo server told to stop; exit 0' TERM; echo server up; while :; do sleep 0.1; done", false, 300*time.Millisecond),
		member("client", "getent hosts server-0.pair; echo client done", true, 0),
	)
	start := time.Now()
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e.rec.wait(t, engine.EventExited, eventTimeout)
	if ev.ExitCode != 0 || ev.Phase != engine.PhaseRun {
		t.Fatalf("the group ended %+v, want run exit 0", ev)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("the group ended after %s: the server was stopped before its termination delay", d)
	}
	logs := readLogs(t, e, at.Ref, engine.LogOptions{})
	for _, want := range []string{"(client, pid=", "client done", "(server, pid=", "server told to stop"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if !strings.Contains(logs, "127.0.0.1") {
		t.Logf("server-0.pair did not resolve here (no mount namespace?):\n%s", logs)
	}
}

// A member that fails before the primary members are done fails the
// group, and the others are stopped.
func TestJobGroupMemberFailureEndsTheGroup(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := groupAttempt("pair", false,
		member("server", "exit 3", false, 0),
		member("client", "sleep 60", true, 0),
	)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	ev := e.rec.wait(t, engine.EventExited, eventTimeout)
	if ev.ExitCode != 3 {
		t.Fatalf("the group ended %+v, want the server's exit code 3", ev)
	}
}

// inter_connection: false gives the members no names of each other.
func TestIsolatedJobGroupHasNoHostnames(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	at := groupAttempt("solo", true,
		member("a", `echo "hosts=[$SKYNOMAD_HOSTS] group=[$SKYNOMAD_GROUP]"`, true, 0),
		member("b", "true", true, 0),
	)
	if err := e.Launch(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	if ev := e.rec.wait(t, engine.EventExited, eventTimeout); ev.ExitCode != 0 {
		t.Fatalf("ended %+v", ev)
	}
	if logs := readLogs(t, e, at.Ref, engine.LogOptions{}); !strings.Contains(logs, "hosts=[] group=[]") {
		t.Errorf("an isolated group's task saw names of the others:\n%s", logs)
	}
}
