package enginetest

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
)

// Fake is a programmable engine for the controller's tests. It records
// every call; its script (SetScript) plays events for each new attempt
// after Launch returns. It keeps the engine contract (the conformance
// suite runs on it too): Launch is idempotent per Ref, Stop of an unknown
// or ended attempt is no error, Resume of an unknown attempt is
// ErrNotFound, and Resume of an ended one re-reports its end.
type Fake struct {
	sinkMu sync.Mutex
	sink   engine.Sink

	mu       sync.Mutex
	attempts map[engine.Ref]*fakeAttempt
	launches []engine.Attempt // every Launch call, in order
	stops    []engine.Ref
	resumes  []engine.Ref
	changed  chan struct{} // closed and replaced at every call

	script     func(a engine.Attempt) []engine.Event
	launchHook func(ctx context.Context, a *engine.Attempt) error
	stopHook   func(ctx context.Context, ref engine.Ref) error
}

// SetScript sets what to play for each newly launched attempt: the events
// are emitted in order on their own goroutine.
func (f *Fake) SetScript(s func(a engine.Attempt) []engine.Event) {
	f.mu.Lock()
	f.script = s
	f.mu.Unlock()
}

// SetLaunchHook sets a function run inside Launch before anything is
// recorded: it may block or fail.
func (f *Fake) SetLaunchHook(h func(ctx context.Context, a *engine.Attempt) error) {
	f.mu.Lock()
	f.launchHook = h
	f.mu.Unlock()
}

// SetStopHook sets a function run inside Stop first: it may block or fail.
func (f *Fake) SetStopHook(h func(ctx context.Context, ref engine.Ref) error) {
	f.mu.Lock()
	f.stopHook = h
	f.mu.Unlock()
}

type fakeAttempt struct {
	a     engine.Attempt
	mu    sync.Mutex
	cond  *sync.Cond
	logs  []byte
	ended bool
	// last is the event that ended the attempt, which Resume re-reports.
	last *engine.Event
}

var (
	_ engine.Engine    = (*Fake)(nil)
	_ engine.Preempter = (*Fake)(nil)
)

// NewFake returns an engine reporting to sink.
func NewFake(sink engine.Sink) *Fake {
	return &Fake{sink: sink, attempts: map[engine.Ref]*fakeAttempt{}, changed: make(chan struct{})}
}

// SetSink points the engine at another controller's queue (a restarted
// controller).
func (f *Fake) SetSink(s engine.Sink) {
	f.sinkMu.Lock()
	f.sink = s
	f.sinkMu.Unlock()
}

func (f *Fake) send(ev engine.Event) {
	f.sinkMu.Lock()
	s := f.sink
	f.sinkMu.Unlock()
	s(ev)
}

// bump wakes waiters; called with f.mu held.
func (f *Fake) bump() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) Name() string { return "fake" }

func (f *Fake) Offerings(context.Context) ([]catalog.Offering, error) { return nil, nil }

func (f *Fake) Launch(ctx context.Context, a *engine.Attempt) error {
	f.mu.Lock()
	hook := f.launchHook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, a); err != nil {
			return err
		}
	}
	f.mu.Lock()
	script := f.script
	f.launches = append(f.launches, *a)
	_, exists := f.attempts[a.Ref]
	if !exists {
		fa := &fakeAttempt{a: *a}
		fa.cond = sync.NewCond(&fa.mu)
		f.attempts[a.Ref] = fa
	}
	f.bump()
	f.mu.Unlock()
	if !exists && script != nil {
		evs := script(*a)
		go func() {
			for _, ev := range evs {
				f.Emit(ev)
			}
		}()
	}
	return nil
}

// Resume finds a launched attempt; one that ended has its ending event
// sent again, as a restarted engine reports what happened meanwhile.
func (f *Fake) Resume(ctx context.Context, a *engine.Attempt) error {
	f.mu.Lock()
	f.resumes = append(f.resumes, a.Ref)
	f.bump()
	fa, ok := f.attempts[a.Ref]
	f.mu.Unlock()
	if !ok {
		return engine.ErrNotFound
	}
	fa.mu.Lock()
	last := fa.last
	fa.mu.Unlock()
	if last != nil {
		f.send(*last)
	}
	return nil
}

func (f *Fake) Stop(ctx context.Context, ref engine.Ref) error {
	f.mu.Lock()
	hook := f.stopHook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, ref); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.stops = append(f.stops, ref)
	fa, ok := f.attempts[ref]
	f.bump()
	f.mu.Unlock()
	if ok {
		ev := engine.Event{Ref: ref, Kind: engine.EventStopped, Time: time.Now()}
		if fa.end(&ev) {
			f.send(ev)
		}
	}
	return nil
}

func (f *Fake) Logs(ctx context.Context, ref engine.Ref, opts engine.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	fa, ok := f.attempts[ref]
	f.mu.Unlock()
	if !ok {
		return nil, engine.ErrNotFound
	}
	if !opts.Follow {
		fa.mu.Lock()
		text := string(fa.logs)
		fa.mu.Unlock()
		if opts.Tail > 0 {
			lines := strings.SplitAfter(text, "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			if len(lines) > opts.Tail {
				lines = lines[len(lines)-opts.Tail:]
			}
			text = strings.Join(lines, "")
		}
		return io.NopCloser(strings.NewReader(text)), nil
	}
	r := &followReader{fa: fa, ctx: ctx}
	stop := context.AfterFunc(ctx, func() {
		fa.mu.Lock()
		fa.cond.Broadcast()
		fa.mu.Unlock()
	})
	r.stop = stop
	return r, nil
}

// Preempt implements engine.Preempter.
func (f *Fake) Preempt(ctx context.Context, ref engine.Ref, notice time.Duration) error {
	f.mu.Lock()
	_, ok := f.attempts[ref]
	f.mu.Unlock()
	if !ok {
		return engine.ErrNotFound
	}
	if notice > 0 {
		f.Emit(engine.Event{Ref: ref, Kind: engine.EventPreemptionNotice, Node: "fake-node",
			Deadline: time.Now().Add(notice)})
	}
	f.Emit(engine.Event{Ref: ref, Kind: engine.EventPreempted, Node: "fake-node", Reason: "injected"})
	return nil
}

// Relaunch plays an engine that recovered a preemption by itself, as the
// Nomad engine does when it adopts Nomad's replacement: attempt ref ends
// Preempted with Replacement ref+1, which the engine now runs (Resume finds
// it) without any Launch call. The replacement's events are the test's to
// emit. It returns the replacement's Ref.
func (f *Fake) Relaunch(ref engine.Ref, node, reason string) engine.Ref {
	next := ref
	next.Attempt++
	f.mu.Lock()
	fa := &fakeAttempt{}
	if old := f.attempts[ref]; old != nil {
		fa.a = old.a
	}
	fa.a.Ref = next
	fa.cond = sync.NewCond(&fa.mu)
	f.attempts[next] = fa
	f.bump()
	f.mu.Unlock()
	f.Emit(engine.Event{Ref: ref, Kind: engine.EventPreempted, Node: node, Reason: reason, Replacement: &next})
	return next
}

// Emit sends an event to the controller, as the engine would. Events that
// end an attempt also end its log stream.
func (f *Fake) Emit(ev engine.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	switch ev.Kind {
	case engine.EventExited, engine.EventPreempted, engine.EventOperatorStopped, engine.EventNoCapacity:
		if ev.Kind != engine.EventExited || ev.Phase != engine.PhaseSetup || ev.ExitCode != 0 {
			f.mu.Lock()
			fa := f.attempts[ev.Ref]
			f.mu.Unlock()
			if fa != nil {
				fa.end(&ev)
			}
		}
	}
	f.send(ev)
}

// Print appends output to an attempt's log.
func (f *Fake) Print(ref engine.Ref, text string) {
	f.mu.Lock()
	fa := f.attempts[ref]
	f.mu.Unlock()
	fa.mu.Lock()
	fa.logs = append(fa.logs, text...)
	fa.cond.Broadcast()
	fa.mu.Unlock()
}

// Forget drops an attempt, as if the engine never heard of it.
func (f *Fake) Forget(ref engine.Ref) {
	f.mu.Lock()
	delete(f.attempts, ref)
	f.mu.Unlock()
}

// end marks the attempt ended by ev (the first ending is kept) and
// reports whether it was live.
func (fa *fakeAttempt) end(ev *engine.Event) bool {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	was := fa.ended
	fa.ended = true
	if !was && ev != nil {
		last := *ev
		fa.last = &last
	}
	fa.cond.Broadcast()
	return !was
}

// Launches returns every Launch call so far.
func (f *Fake) Launches() []engine.Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.launches)
}

// Stops returns every Stop call so far.
func (f *Fake) Stops() []engine.Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.stops)
}

// Resumes returns every Resume call so far.
func (f *Fake) Resumes() []engine.Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resumes)
}

// Live lists attempts launched and not ended.
func (f *Fake) Live() []engine.Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.Ref
	for ref, fa := range f.attempts {
		fa.mu.Lock()
		if !fa.ended {
			out = append(out, ref)
		}
		fa.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b engine.Ref) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// WaitFor waits until cond (evaluated under the engine's lock, on its
// records) holds, or the deadline passes.
func (f *Fake) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type followReader struct {
	fa   *fakeAttempt
	ctx  context.Context
	off  int
	stop func() bool
}

func (r *followReader) Read(p []byte) (int, error) {
	fa := r.fa
	fa.mu.Lock()
	defer fa.mu.Unlock()
	for r.off >= len(fa.logs) && !fa.ended && r.ctx.Err() == nil {
		fa.cond.Wait()
	}
	if r.off < len(fa.logs) {
		n := copy(p, fa.logs[r.off:])
		r.off += n
		return n, nil
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return 0, io.EOF
}

func (r *followReader) Close() error { r.stop(); return nil }

// Scripts for Fake.SetScript.

// Succeed places the attempt, runs it and exits 0.
func Succeed(a engine.Attempt) []engine.Event {
	return Exit(a, engine.PhaseRun, 0)
}

// Exit places the attempt, runs it, and exits in phase with code.
func Exit(a engine.Attempt, phase engine.Phase, code int) []engine.Event {
	evs := []engine.Event{
		{Ref: a.Ref, Kind: engine.EventPlaced, Node: "node-" + a.Choice.Offering.Region},
		{Ref: a.Ref, Kind: engine.EventSetupStarted},
	}
	if phase == engine.PhaseRun {
		evs = append(evs, engine.Event{Ref: a.Ref, Kind: engine.EventRunning})
	}
	return append(evs, engine.Event{Ref: a.Ref, Kind: engine.EventExited, Phase: phase, ExitCode: code})
}

// Place only places the attempt and starts its run.
func Place(a engine.Attempt) []engine.Event {
	return []engine.Event{
		{Ref: a.Ref, Kind: engine.EventPlaced, Node: "node-" + a.Choice.Offering.Region},
		{Ref: a.Ref, Kind: engine.EventRunning},
	}
}

// Preempted places the attempt, then loses its node.
func Preempted(a engine.Attempt) []engine.Event {
	return append(Place(a), engine.Event{Ref: a.Ref, Kind: engine.EventPreempted,
		Node: "node-" + a.Choice.Offering.Region, Reason: "spot reclaimed"})
}

// NoCap reports that the attempt could not be placed.
func NoCap(a engine.Attempt) []engine.Event {
	return []engine.Event{{Ref: a.Ref, Kind: engine.EventNoCapacity, Reason: "no nodes"}}
}
