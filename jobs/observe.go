package jobs

import (
	"strings"
	"sync"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// Observer learns what the controller records, for metrics. It is told
// after each save, on the controller's loop: its methods must be quick and
// never block. The zero Config uses one that does nothing.
type Observer interface {
	// AttemptLaunched: an attempt of a task was written and goes to the
	// engine, on ch. Pool workers' attempts are included.
	AttemptLaunched(ch catalog.Choice)
	// QueueWait: a task's first attempt was launched d after the task was
	// submitted (PENDING time).
	QueueWait(d time.Duration)
	// TimeToRunning: an attempt's task became RUNNING d after the attempt
	// was launched.
	TimeToRunning(d time.Duration)
	// AttemptEnded: an attempt ended with outcome (store.Outcome*) d after
	// it was launched.
	AttemptEnded(ch catalog.Choice, outcome string, d time.Duration)
	// Recovered: a task recovers from the loss of its attempt; cause is
	// spot_interruption, node_lost, replaced (the engine placed a
	// replacement itself) or preempted.
	Recovered(cause string)
	// Restarted: a task restarts after a failure (max_restarts_on_errors).
	Restarted()
}

type noObserver struct{}

func (noObserver) AttemptLaunched(catalog.Choice)                     {}
func (noObserver) QueueWait(time.Duration)                            {}
func (noObserver) TimeToRunning(time.Duration)                        {}
func (noObserver) AttemptEnded(catalog.Choice, string, time.Duration) {}
func (noObserver) Recovered(string)                                   {}
func (noObserver) Restarted()                                         {}

// observed is what the Observer was last told of a task.
type observed struct {
	launched, running, ended int // attempt numbers
	recoveries, restarts     int
	// cause is why the task's attempt was last lost (Recovered's cause).
	cause string
}

// observedFrom is what a restored task has already told (before the
// controller restarted): nothing of it is told again.
func observedFrom(t *taskState) observed {
	o := observed{recoveries: t.rec.Recoveries, restarts: t.rec.Restarts}
	if a := t.att; a != nil {
		o.launched = a.Number
		if t.rec.Status == api.StatusRunning || !a.Live() {
			o.running = a.Number
		}
		if !a.Live() {
			o.ended = a.Number
		}
	}
	return o
}

// recoveryCause names why an attempt was lost, from the engine's words.
func recoveryCause(reason string, replaced bool) string {
	r := strings.ToLower(reason)
	switch {
	case replaced:
		return "replaced"
	case strings.Contains(r, "interrupt") || strings.Contains(r, "notice") || strings.Contains(r, "spot"):
		return "spot_interruption"
	case strings.Contains(r, "node") || strings.Contains(r, "lost") || strings.Contains(r, "down"):
		return "node_lost"
	}
	return "preempted"
}

// observe tells the Observer what a save recorded, feeds the dashboards'
// change stream and keeps the last capacity errors.
func (c *Controller) observe(js *jobState, tasks []*taskState, atts []*store.Attempt) {
	for _, a := range atts {
		if a == nil || a.Task >= len(js.tasks) {
			continue
		}
		t := js.tasks[a.Task]
		o := &t.obs
		if a.Number > o.launched {
			o.launched = a.Number
			c.obs.AttemptLaunched(a.Choice)
			if a.Number == 1 && !t.rec.SubmittedAt.IsZero() {
				c.obs.QueueWait(a.CreatedAt.Sub(t.rec.SubmittedAt))
			}
		}
		if a.Number > o.running && t.att == a && t.rec.Status == api.StatusRunning {
			o.running = a.Number
			c.obs.TimeToRunning(c.now().Sub(a.CreatedAt))
		}
		if a.Number > o.ended && !a.Live() {
			o.ended = a.Number
			c.obs.AttemptEnded(a.Choice, a.Outcome, a.EndedAt.Sub(a.CreatedAt))
			if a.Outcome == store.OutcomeNoCapacity {
				c.capErrors.add(api.CapacityError{
					At: a.EndedAt, JobID: a.JobID, Task: a.Task, Cloud: a.Choice.Offering.Cloud,
					Region: a.Choice.Offering.Region, Instance: a.Choice.Offering.InstanceType,
					Spot: a.Choice.Spot, Reason: t.lastNoCap,
				})
			}
		}
	}
	for _, t := range tasks {
		o := &t.obs
		for ; o.recoveries < t.rec.Recoveries; o.recoveries++ {
			c.obs.Recovered(o.cause)
		}
		for ; o.restarts < t.rec.Restarts; o.restarts++ {
			c.obs.Restarted()
		}
	}
	c.feed.publish(api.JobEvent{ID: js.job.ID, Status: js.job.Status, Worker: js.job.IsWorker(), Pool: js.job.Pool})
}

// capacityErrors keeps the last capacity errors, newest last.
type capacityErrors struct {
	mu   sync.Mutex
	last []api.CapacityError
}

// keptCapacityErrors is how many capacity errors the capacity page shows.
const keptCapacityErrors = 50

func (e *capacityErrors) add(ce api.CapacityError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.last) == keptCapacityErrors {
		e.last = append(e.last[:0], e.last[1:]...)
	}
	e.last = append(e.last, ce)
}

// list returns the kept errors, newest first.
func (e *capacityErrors) list() []api.CapacityError {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]api.CapacityError, len(e.last))
	for i, ce := range e.last {
		out[len(e.last)-1-i] = ce
	}
	return out
}

// feed is the stream of job changes the dashboards follow: a ring of the
// last feedSize events, numbered from 1, and a channel closed at the next
// one. A reader that fell behind the ring is told to reload.
type feed struct {
	mu   sync.Mutex
	seq  uint64
	ring [feedSize]api.JobEvent
	wake chan struct{}
}

const feedSize = 4096

func newFeed() *feed { return &feed{wake: make(chan struct{})} }

func (f *feed) publish(ev api.JobEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	ev.Seq = f.seq
	f.ring[f.seq%feedSize] = ev
	close(f.wake)
	f.wake = make(chan struct{})
}

// since returns the events after seq, whether some of them are lost
// (seq is older than the ring), the last sequence number, and a channel
// closed at the next event.
func (f *feed) since(seq uint64) (evs []api.JobEvent, lost bool, last uint64, wake <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq > f.seq {
		seq = f.seq // a controller restarted since: start from now
	}
	if f.seq-seq > feedSize {
		return nil, true, f.seq, f.wake
	}
	for s := seq + 1; s <= f.seq; s++ {
		evs = append(evs, f.ring[s%feedSize])
	}
	return evs, false, f.seq, f.wake
}

// JobEvents returns the job changes after seq, whether some were lost
// and the page should reload, the last sequence number, and a channel
// closed at the next change. A seq past the last (such as ^uint64(0))
// returns no change, only the last number: where a new reader starts. It
// never waits: a caller waits on the channel.
func (c *Controller) JobEvents(seq uint64) (evs []api.JobEvent, lost bool, last uint64, wake <-chan struct{}) {
	return c.feed.since(seq)
}
