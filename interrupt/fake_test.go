package interrupt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// fakeNomad is an in-memory nomadActions that records every call that
// changes something, in order.
type fakeNomad struct {
	mu     sync.Mutex
	node   nodeInfo
	allocs []allocInfo
	vars   map[string]preemptionRecord // namespace/path
	calls  []string
	// fail makes the named call ("ineligible", "record", "signal", "stop",
	// "allocs", "node", "drain") fail that many more times.
	fail map[string]int
	// signaledAt is when each SIGTERM was received, by alloc/task.
	signaledAt map[string]time.Time
	now        func() time.Time
}

var _ nomadActions = (*fakeNomad)(nil)

func newFakeNomad(node nodeInfo, allocs ...allocInfo) *fakeNomad {
	return &fakeNomad{
		node: node, allocs: allocs, vars: map[string]preemptionRecord{},
		fail: map[string]int{}, signaledAt: map[string]time.Time{}, now: time.Now,
	}
}

func (f *fakeNomad) failing(op string) error {
	if f.fail[op] > 0 {
		f.fail[op]--
		return fmt.Errorf("fake nomad: %s: %w", op, errFake)
	}
	return nil
}

var errFake = errors.New("injected failure")

func (f *fakeNomad) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeNomad) Node(_ context.Context, id string) (nodeInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("node"); err != nil {
		return nodeInfo{}, err
	}
	if id != f.node.ID {
		return nodeInfo{}, fmt.Errorf("node %s not found", id)
	}
	return f.node, nil
}

func (f *fakeNomad) SetIneligible(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("ineligible"); err != nil {
		return err
	}
	f.calls = append(f.calls, "ineligible "+id)
	f.node.Eligible = false
	return nil
}

func (f *fakeNomad) Drain(_ context.Context, id string, deadline time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("drain"); err != nil {
		return err
	}
	f.calls = append(f.calls, fmt.Sprintf("drain %s %s", id, deadline))
	f.node.Draining, f.node.Eligible = true, false
	return nil
}

func (f *fakeNomad) NodeAllocs(_ context.Context, id string) ([]allocInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("allocs"); err != nil {
		return nil, err
	}
	var out []allocInfo
	for _, a := range f.allocs {
		if a.NodeID == id {
			b := a
			b.Signaled = map[string]bool{}
			for k, v := range a.Signaled {
				b.Signaled[k] = v
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func (f *fakeNomad) PreemptionRecorded(_ context.Context, ns, allocID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.vars[ns+"/"+naming.PreemptionVariable(allocID)]
	return ok, nil
}

func (f *fakeNomad) RecordPreemption(_ context.Context, r preemptionRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("record"); err != nil {
		return err
	}
	f.calls = append(f.calls, "record "+r.AllocID)
	f.vars[r.Namespace+"/"+naming.PreemptionVariable(r.AllocID)] = r
	return nil
}

func (f *fakeNomad) Signal(_ context.Context, a allocInfo, task, sig string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("signal"); err != nil {
		return err
	}
	f.calls = append(f.calls, fmt.Sprintf("signal %s %s %s", a.ID, task, sig))
	f.signaledAt[a.ID+"/"+task] = f.now()
	for i := range f.allocs {
		if f.allocs[i].ID == a.ID {
			if f.allocs[i].Signaled == nil {
				f.allocs[i].Signaled = map[string]bool{}
			}
			f.allocs[i].Signaled[task] = true
		}
	}
	return nil
}

func (f *fakeNomad) Stop(_ context.Context, a allocInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("stop"); err != nil {
		return err
	}
	f.calls = append(f.calls, "stop "+a.ID)
	for i := range f.allocs {
		if f.allocs[i].ID == a.ID {
			f.allocs[i].DesiredStatus = "stop"
		}
	}
	return nil
}

// setAlloc replaces an allocation (e.g. to make it finish).
func (f *fakeNomad) setAlloc(a allocInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.allocs {
		if f.allocs[i].ID == a.ID {
			f.allocs[i] = a
			return
		}
	}
	f.allocs = append(f.allocs, a)
}

// fakeClock is a settable clock. After fires when the clock is advanced
// past the wanted time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if !at.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at, ch})
	return ch
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// NextWake is the earliest time an unfired After channel waits for.
func (c *fakeClock) NextWake() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	for _, w := range c.waiters {
		if t.IsZero() || w.at.Before(t) {
			t = w.at
		}
	}
	return t
}

// Waiting reports how many After channels have not fired.
func (c *fakeClock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// chanWatcher delivers notices sent on its channel.
type chanWatcher struct {
	ch    chan Notice
	mu    sync.Mutex
	acked []string
}

func (w *chanWatcher) Next(ctx context.Context) (Notice, error) {
	select {
	case n := <-w.ch:
		return n, nil
	case <-ctx.Done():
		return Notice{}, ctx.Err()
	}
}

func (w *chanWatcher) Acknowledge(_ context.Context, n Notice) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acked = append(w.acked, n.EventID)
	return nil
}

func (w *chanWatcher) Acked() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t interface {
	Helper()
	Fatalf(string, ...any)
}, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// timedWatcher records every notice its watcher returns and when.
type timedWatcher struct {
	w     Watcher
	mu    sync.Mutex
	seen  []Notice
	times []time.Time
}

func (tw *timedWatcher) Next(ctx context.Context) (Notice, error) {
	n, err := tw.w.Next(ctx)
	if err == nil {
		tw.mu.Lock()
		tw.seen = append(tw.seen, n)
		tw.times = append(tw.times, time.Now())
		tw.mu.Unlock()
	}
	return n, err
}

// First returns the first notice and when it was returned.
func (tw *timedWatcher) First() (Notice, time.Time, bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if len(tw.seen) == 0 {
		return Notice{}, time.Time{}, false
	}
	return tw.seen[0], tw.times[0], true
}
