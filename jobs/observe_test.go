package jobs

import (
	"math"
	"testing"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

func TestJobEventsFollowEveryChangeOfAJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, start, wake := h.ctl.JobEvents(math.MaxUint64)
	id := h.submit(oneTask("hello"))
	<-wake // a change came
	h.waitTerminal(id)
	evs, lost, last, _ := h.ctl.JobEvents(start)
	if lost || len(evs) == 0 || last != evs[len(evs)-1].Seq {
		t.Fatalf("events %+v lost %v last %d, want the job's changes up to last", evs, lost, last)
	}
	var statuses []api.Status
	for i, ev := range evs {
		if ev.ID != id || ev.Seq != start+uint64(i)+1 {
			t.Errorf("event %d: %+v, want job %d with seq %d", i, ev, id, start+uint64(i)+1)
		}
		if n := len(statuses); n == 0 || statuses[n-1] != ev.Status {
			statuses = append(statuses, ev.Status)
		}
	}
	want := []api.Status{api.StatusPending, api.StatusStarting, api.StatusRunning, api.StatusSucceeded}
	if len(statuses) != len(want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Errorf("statuses %v, want %v", statuses, want)
		}
	}
}

func TestFeedTellsALateReaderItLostChanges(t *testing.T) {
	t.Parallel()
	f := newFeed()
	for range feedSize + 1 {
		f.publish(api.JobEvent{ID: 1})
	}
	if _, lost, last, _ := f.since(0); !lost || last != feedSize+1 {
		t.Errorf("reading from 0 after %d changes: lost %v last %d, want lost", feedSize+1, lost, last)
	}
	if evs, lost, _, _ := f.since(1); lost || len(evs) != feedSize {
		t.Errorf("reading from 1: %d events lost %v, want the %d kept", len(evs), lost, feedSize)
	}
}

// recorder is an Observer that keeps what it was told.
type recorder struct {
	noObserver
	launched, recovered, restarted []string
	ended                          []string
}

func (r *recorder) AttemptLaunched(ch catalog.Choice) {
	r.launched = append(r.launched, ch.Offering.Region)
}
func (r *recorder) AttemptEnded(_ catalog.Choice, outcome string, _ time.Duration) {
	r.ended = append(r.ended, outcome)
}
func (r *recorder) Recovered(cause string) { r.recovered = append(r.recovered, cause) }
func (r *recorder) Restarted()             { r.restarted = append(r.restarted, "restart") }

func TestObserverIsToldLaunchesEndsAndRecoveries(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := newHarness(t, func(c *Config) { c.Observer = rec })
	h.eng.SetScript(byAttempt(enginetest.NoCap, enginetest.Preempted, exitWith(engine.PhaseRun, 3), enginetest.Succeed))
	id := h.submit(oneTask("flaky", withRecovery(task.JobRecovery{MaxRestartsOnErrors: 1})))
	if j := h.waitTerminal(id); j.Status != api.StatusSucceeded {
		t.Fatalf("job ended %s", j.Status)
	}
	h.sync()
	if len(rec.launched) != 4 {
		t.Errorf("launches %v, want 4", rec.launched)
	}
	wantEnded := []string{store.OutcomeNoCapacity, store.OutcomePreempted, store.OutcomeFailed, store.OutcomeSucceeded}
	if len(rec.ended) != 4 || rec.ended[0] != wantEnded[0] || rec.ended[1] != wantEnded[1] || rec.ended[2] != wantEnded[2] || rec.ended[3] != wantEnded[3] {
		t.Errorf("ended %v, want %v", rec.ended, wantEnded)
	}
	if len(rec.recovered) != 1 || rec.recovered[0] != "spot_interruption" {
		t.Errorf("recoveries %v, want one spot_interruption (the engine said: spot reclaimed)", rec.recovered)
	}
	if len(rec.restarted) != 1 {
		t.Errorf("restarts %v, want 1", rec.restarted)
	}
	c, err := h.ctl.Capacity(t.Context())
	if err != nil || len(c.Errors) != 1 || c.Errors[0].JobID != id || c.Errors[0].Region == "" {
		t.Errorf("capacity errors %+v (%v), want the one no-capacity attempt of job %d", c.Errors, err, id)
	}
}
