package enginetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
)

// Recorder is an engine.Sink that keeps every event and wakes waiters.
type Recorder struct {
	mu      sync.Mutex
	events  []engine.Event
	changed chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Sink records ev; pass it to an engine as its engine.Sink.
func (r *Recorder) Sink(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Events returns the events of ref so far, in the order they came.
func (r *Recorder) Events(ref engine.Ref) []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Event
	for _, ev := range r.events {
		if ev.Ref == ref {
			out = append(out, ev)
		}
	}
	return out
}

// All returns every event so far.
func (r *Recorder) All() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Wait returns the first event of kind for ref, waiting up to timeout for
// it; the test fails if none comes.
func (r *Recorder) Wait(t testing.TB, ref engine.Ref, kind engine.EventKind, timeout time.Duration) engine.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		for _, ev := range r.events {
			if ev.Ref == ref && ev.Kind == kind {
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no %s event for %s within %s; got %v", kind, ref, timeout, kinds(r.Events(ref)))
		}
	}
}
