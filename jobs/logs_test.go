package jobs

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
)

func TestLogsAcrossAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("spot"))
	a1 := engine.Ref{JobID: id, Attempt: 1}
	a2 := engine.Ref{JobID: id, Attempt: 2}
	h.waitStatus(id, api.StatusRunning)

	// Follow from the start, through a preemption, to the end.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rc, err := h.ctl.Logs(ctx, id, nil, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(rc)
		followed <- string(b)
	}()

	h.eng.Print(a1, "one\nuno\n")
	if err := h.ctl.Preempt(ctx, id, api.PreemptRequest{}); err != nil {
		t.Fatal(err)
	}
	h.waitLaunched(a2)
	h.waitStatus(id, api.StatusRunning)
	h.eng.Print(a2, "two\n")
	h.eng.Emit(engine.Event{Ref: a2, Kind: engine.EventExited, Phase: engine.PhaseRun})
	h.waitTerminal(id)

	want := "one\nuno\n--- attempt 2 ---\ntwo\n"
	select {
	case got := <-followed:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("followed logs (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("following did not end when the job finished")
	}
	if diff := cmp.Diff(want, h.logsOf(id, nil, engine.LogOptions{})); diff != "" {
		t.Errorf("logs of the finished job (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("two\n", h.logsOf(id, nil, engine.LogOptions{Tail: 1})); diff != "" {
		t.Errorf("tail 1 (-want +got):\n%s", diff)
	}
	zero := 0
	if diff := cmp.Diff(want, h.logsOf(id, &zero, engine.LogOptions{Follow: true})); diff != "" {
		t.Errorf("following a finished job (-want +got):\n%s", diff)
	}
	if _, err := h.ctl.Logs(ctx, id+1, nil, engine.LogOptions{}); !IsNotFound(err) {
		t.Errorf("unknown job: %v", err)
	}
	one := 1
	if _, err := h.ctl.Logs(ctx, id, &one, engine.LogOptions{}); !IsNotFound(err) {
		t.Errorf("unknown task: %v", err)
	}
}

func TestPipelineLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(pipeline("pipe", 2))
	for i := range 2 {
		ref := engine.Ref{JobID: id, Task: i, Attempt: 1}
		h.waitLaunched(ref)
		h.eng.Print(ref, "output of task "+itoa(int64(i))+"\n")
		h.eng.Emit(engine.Event{Ref: ref, Kind: engine.EventExited, Phase: engine.PhaseRun})
	}
	h.waitTerminal(id)
	want := "==> task 0 (step0) <==\noutput of task 0\n==> task 1 (step1) <==\noutput of task 1\n"
	if diff := cmp.Diff(want, h.logsOf(id, nil, engine.LogOptions{})); diff != "" {
		t.Errorf("pipeline logs (-want +got):\n%s", diff)
	}
	one := 1
	if diff := cmp.Diff("output of task 1\n", h.logsOf(id, &one, engine.LogOptions{})); diff != "" {
		t.Errorf("task 1 logs (-want +got):\n%s", diff)
	}
}

func TestLogsOfPendingJobDoNotBlock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxRunning = 1 })
	h.eng.SetScript(enginetest.Place)
	first := h.submit(oneTask("first"))
	h.waitStatus(first, api.StatusRunning)
	pending := h.submit(oneTask("pending"))
	h.sync()
	if got := h.logsOf(pending, nil, engine.LogOptions{}); got != "" {
		t.Errorf("logs of a pending job = %q", got)
	}
}

func TestControllerLogFollow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.eng.SetScript(enginetest.Place)
	id := h.submit(oneTask("watched"))
	h.waitStatus(id, api.StatusRunning)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rc, err := h.ctl.ControllerLog(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(rc)
		done <- string(b)
	}()
	h.eng.Emit(engine.Event{Ref: engine.Ref{JobID: id, Attempt: 1}, Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 4})
	select {
	case got := <-done:
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if last := lines[len(lines)-1]; !strings.HasSuffix(last, "job finished: FAILED (run exited with code 4)") {
			t.Errorf("last line %q; log:\n%s", last, got)
		}
		if !strings.Contains(got, "placing attempt 1") {
			t.Errorf("log lacks the placement:\n%s", got)
		}
	case <-ctx.Done():
		t.Fatal("following the controller log did not end with the job")
	}
	rc, err = h.ctl.ControllerLog(ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(b), "job finished: FAILED") {
		t.Errorf("controller log:\n%s", b)
	}
}
