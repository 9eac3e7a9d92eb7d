package nomad

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/engine"
)

// TestRealResumeAfterRestart: the controller (and its engine) stops while
// an attempt runs, and the attempt fails meanwhile. The restarted engine
// reopens the event stream from the index the first one saved, and Resume
// reports the failure. Resuming an attempt Nomad never ran is ErrNotFound.
// (The conformance suite resumes an attempt that ended before the
// restart.)
func TestRealResumeAfterRestart(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, nil)
	fail := filepath.Join(t.TempDir(), "fail")
	a := h.attempt(t, 1, "", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.1; done; exit 7", shellQuote(fail)), 1)
	h.launch(t, a)
	h.wait(t, a.Ref, engine.EventRunning)
	alloc := h.onlyAlloc(t, JobID(a.Ref)).ID
	if err := h.eng.Close(); err != nil {
		t.Fatal(err)
	}
	saved, _ := h.cursor.Load()
	if saved == 0 {
		t.Fatal("the engine saved no event index")
	}

	// While the controller is down the attempt fails.
	touch(t, fail)
	h.waitAllocTerminal(t, alloc)
	before := len(h.reqs.all())
	h.rec = newRecorder()
	restarted := h.start(t, h.rec)
	if err := restarted.Resume(h.ctx, a); err != nil {
		t.Fatal(err)
	}
	ev := h.wait(t, a.Ref, engine.EventExited)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 7 {
		t.Errorf("after restart: %+v, want run exit 7", ev)
	}
	var stream string
	for _, r := range h.reqs.all()[before:] {
		if strings.HasPrefix(r, "GET /v1/event/stream") {
			stream = r
			break
		}
	}
	if want := "GET /v1/event/stream?index=" + strconv.FormatUint(saved, 10) + "&"; !strings.HasPrefix(stream, want) {
		t.Errorf("the restarted engine opened the stream with %q, want from the saved index (%s...)", stream, want)
	}

	for _, ref := range []engine.Ref{{JobID: a.Ref.JobID, Attempt: 2}, {JobID: realJobID(), Attempt: 1}} {
		err := restarted.Resume(h.ctx, &engine.Attempt{Ref: ref})
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Resume(%v) = %v, want ErrNotFound", ref, err)
		}
	}
}

// TestRealResumeTellsOwnStopFromOperators: after a restart a stopped job
// is Stopped if skynomad stopped it, OperatorStopped if an operator ran
// `nomad job stop` while the controller was down.
func TestRealResumeTellsOwnStopFromOperators(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{true, false} {
		t.Run(map[bool]string{true: "own stop", false: "operator stop"}[own], func(t *testing.T) {
			t.Parallel()
			h := newRealHarness(t, nil)
			a := h.attempt(t, 1, "", "sleep 600", 1)
			jobID := JobID(a.Ref)
			h.launch(t, a)
			h.wait(t, a.Ref, engine.EventRunning)
			if own {
				if err := h.eng.Stop(h.ctx, a.Ref); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.eng.Close(); err != nil {
				t.Fatal(err)
			}
			if !own {
				if _, _, err := h.client.Jobs().Deregister(jobID, false, nil); err != nil {
					t.Fatal(err)
				}
			}
			h.rec = newRecorder()
			restarted := h.start(t, h.rec)
			if err := restarted.Resume(h.ctx, a); err != nil {
				t.Fatal(err)
			}
			want := engine.EventOperatorStopped
			if own {
				want = engine.EventStopped
			}
			h.wait(t, a.Ref, want)
			if diff := cmp.Diff([]engine.EventKind{engine.EventPlaced, engine.EventRunning, want}, h.rec.kinds(a.Ref)); diff != "" {
				t.Errorf("events after the restart (-want +got):\n%s", diff)
			}
		})
	}
}
