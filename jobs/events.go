package jobs

import (
	"sync"

	"github.com/skynomad/skynomad/engine"
)

// EventQueue buffers engine events for the controller. Its Sink never
// blocks, so engines can call it from any goroutine; the controller loop
// drains it in arrival order.
type EventQueue struct {
	mu    sync.Mutex
	buf   []engine.Event
	ready chan struct{}
}

// NewEventQueue returns an empty queue.
func NewEventQueue() *EventQueue {
	return &EventQueue{ready: make(chan struct{}, 1)}
}

// Sink appends an event; pass it (q.Sink) to the engine as its engine.Sink.
func (q *EventQueue) Sink(ev engine.Event) {
	q.mu.Lock()
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

var _ engine.Sink = (*EventQueue)(nil).Sink

// drain takes every buffered event.
func (q *EventQueue) drain() []engine.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.buf
	q.buf = nil
	return evs
}

// notifier wakes up readers waiting for a job to change (log followers).
type notifier struct {
	mu    sync.Mutex
	chans map[int64]chan struct{}
}

func newNotifier() *notifier { return &notifier{chans: map[int64]chan struct{}{}} }

// wait returns a channel closed at the job's next change.
func (n *notifier) wait(id int64) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.chans[id]
	if !ok {
		ch = make(chan struct{})
		n.chans[id] = ch
	}
	return ch
}

// notify wakes the job's waiters.
func (n *notifier) notify(id int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.chans[id]; ok {
		close(ch)
		delete(n.chans, id)
	}
}
