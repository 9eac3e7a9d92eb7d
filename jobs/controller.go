package jobs

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// Controller runs managed jobs. Create it with New, run it with Start, end
// it with Stop.
type Controller struct {
	cfg    Config
	store  *store.Store
	eng    engine.Engine
	log    *slog.Logger
	now    func() time.Time
	events *EventQueue
	notes  *notifier
	obs    Observer
	feed   *feed
	// capErrors are the last capacity errors (the capacity page's).
	capErrors capacityErrors
	jlog      *jobLogs
	view      *queueView

	inbox    chan func()
	started  atomic.Bool
	stopOnce sync.Once
	ctx      context.Context // the loop's; cancelled by Stop
	cancel   context.CancelFunc
	done     chan struct{}
	calls    sync.WaitGroup // engine calls and timers in flight

	// Loop-owned state: touched only on the loop goroutine.
	jobs  map[int64]*jobState
	ready readyQueue
	// stopOnReturn holds attempts of jobs that ended while their launch
	// was in flight, to stop when it returns.
	stopOnReturn map[engine.Ref]bool
	slots        slotSource
	rng          *rand.Rand
	// poolSet holds every pool not yet gone (pools.go); poolView is what
	// readers off the loop see of them.
	poolSet  map[string]*poolState
	poolView atomic.Pointer[poolsView]
	// uploads is the progress of uploads to the job-files bucket, read
	// off the loop; readyFiles the records Start found ready, taken by
	// the jobs it resumes (files.go).
	uploads    uploads
	readyFiles map[int64]*bucket.Record
}

// New checks cfg, fills its defaults and returns a controller that is not
// yet running.
func New(cfg Config) (*Controller, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("jobs: log dir: %w", err)
	}
	c := &Controller{
		cfg:     cfg,
		store:   cfg.Store,
		eng:     cfg.Engine,
		log:     cfg.Logger,
		now:     cfg.Clock,
		events:  cfg.Events,
		notes:   newNotifier(),
		obs:     cfg.Observer,
		feed:    newFeed(),
		view:    newQueueView(cfg.ViewSize),
		inbox:   make(chan func(), 1024),
		done:    make(chan struct{}),
		jobs:    map[int64]*jobState{},
		poolSet: map[string]*poolState{},

		stopOnReturn: map[engine.Ref]bool{},
		slots:        &launchSlots{maxLaunching: cfg.MaxLaunching, maxRunning: cfg.MaxRunning},
		rng:          rand.New(rand.NewPCG(cfg.Seed, cfg.Seed>>1|1)),
	}
	c.jlog = newJobLogs(cfg.LogDir, cfg.Clock, c.notes.notify, cfg.Logger)
	return c, nil
}

// Sink is the engine.Sink to give the engine (the event queue's).
func (c *Controller) Sink() engine.Sink { return c.events.Sink }

// EngineName is the engine's name ("local", "nomad").
func (c *Controller) EngineName() string { return c.eng.Name() }

// Version is the configured version string.
func (c *Controller) Version() string { return c.cfg.Version }

// Start loads every unfinished job from the store, re-attaches to its
// attempts and starts the loop. It returns once the loop runs; the
// controller stops when ctx is cancelled or Stop is called.
func (c *Controller) Start(ctx context.Context) error {
	if c.started.Load() {
		return errors.New("jobs: controller already started")
	}
	if err := c.view.load(ctx, c.store); err != nil {
		return fmt.Errorf("jobs: load queue: %w", err)
	}
	if err := c.loadPools(ctx); err != nil {
		return fmt.Errorf("jobs: load pools: %w", err)
	}
	recs, err := c.store.LoadActive(ctx)
	if err != nil {
		return fmt.Errorf("jobs: resume: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	unfinished := map[int64]bucket.Job{}
	for _, r := range recs {
		unfinished[r.Job.ID] = bucket.Job{ID: r.Job.ID, Submitted: r.Job.SubmittedAt, DAG: r.Job.DAG}
	}
	if c.readyFiles, err = c.loadFiles(c.ctx, unfinished); err != nil {
		c.cancel()
		return err
	}
	c.sweepStaged(unfinished, c.readyFiles)
	// Jobs submitted from now on are handed to the loop; those submitted
	// before were in recs (or will be read again, which is harmless).
	c.started.Store(true)
	go c.run(recs)
	return nil
}

// Stop ends the loop and waits for engine calls in flight to return. Jobs
// keep running on the engine; the next Start resumes them.
func (c *Controller) Stop() {
	c.stopOnce.Do(func() {
		if c.started.Load() {
			c.cancel()
			<-c.done
			c.calls.Wait()
		}
		c.jlog.stop()
	})
}

func (c *Controller) run(recs []store.Record) {
	defer close(c.done)
	ctx := c.ctx
	c.resumeAll(recs)
	c.schedule() // jobs found waiting for a launch slot
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.events.ready:
			for _, ev := range c.events.drain() {
				c.onEvent(ev)
			}
		case f := <-c.inbox:
			f()
		}
		c.schedule()
	}
}

// LoopLatency is how long the controller's loop takes to run a no-op
// posted now: how long an API request or an engine event waits before the
// controller handles it.
func (c *Controller) LoopLatency(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := c.call(ctx, func() error { return nil })
	return time.Since(start), err
}

// post hands f to the loop. It returns false if the controller stopped.
func (c *Controller) post(f func()) bool {
	select {
	case c.inbox <- f:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// call runs f on the loop and returns its error.
func (c *Controller) call(ctx context.Context, f func() error) error {
	if !c.started.Load() {
		return ErrNotRunning
	}
	errc := make(chan error, 1)
	select {
	case c.inbox <- func() { errc <- f() }:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrNotRunning
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrNotRunning
	}
}

// goCall runs an engine call off the loop; done runs on the loop with its
// result (unless the controller stopped meanwhile).
func (c *Controller) goCall(f func(ctx context.Context) error, done func(error)) {
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		err := f(c.ctx)
		c.post(func() { done(err) })
	}()
}

// after runs f on the loop after d, unless the controller stopped. The
// returned timer may be stopped.
func (c *Controller) after(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { c.post(f) })
}

// guard runs one piece of a job's handling. An error or a panic ends that
// job FAILED_CONTROLLER; other jobs carry on.
func (c *Controller) guard(js *jobState, f func() error) {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return f()
	}()
	if err != nil {
		c.failController(js, err)
	}
}

// jlogf writes to the job's controller log (in the background; a failure
// is only logged).
func (c *Controller) jlogf(id int64, format string, args ...any) {
	c.jlog.printf(id, format, args...)
}

// slotSource decides whether a job may start launching now: every job but
// a pool's draws from the controller's launch slots (a pool job waits for
// a free worker of its pool instead: pools.go).
type slotSource interface {
	// acquire takes a slot for js if one is free.
	acquire(js *jobState) bool
	// force takes slots whatever the limits (jobs found running or
	// launching when the controller starts); launching adds a launch slot.
	force(js *jobState, launching bool)
	// placed gives back js's launch slot (its attempt is placed or it
	// stopped launching).
	placed(js *jobState)
	// finished gives back everything js holds.
	finished(js *jobState)
}

// launchSlots limits jobs launching at once and, optionally, jobs running.
type launchSlots struct {
	maxLaunching, maxRunning int
	launching, running       int
}

func (s *launchSlots) acquire(js *jobState) bool {
	if js.launchSlot {
		return true
	}
	if s.launching >= s.maxLaunching {
		return false
	}
	if !js.runSlot && s.maxRunning > 0 && s.running >= s.maxRunning {
		return false
	}
	s.launching++
	js.launchSlot = true
	if !js.runSlot {
		s.running++
		js.runSlot = true
	}
	return true
}

// force takes slots regardless of limits (jobs found launching at restart).
func (s *launchSlots) force(js *jobState, launching bool) {
	if launching && !js.launchSlot {
		s.launching++
		js.launchSlot = true
	}
	if !js.runSlot {
		s.running++
		js.runSlot = true
	}
}

func (s *launchSlots) placed(js *jobState) {
	if js.launchSlot {
		s.launching--
		js.launchSlot = false
	}
}

func (s *launchSlots) finished(js *jobState) {
	s.placed(js)
	if js.runSlot {
		s.running--
		js.runSlot = false
	}
}

// readyQueue orders jobs waiting for a launch slot: priority descending,
// then job id ascending.
type readyQueue []*jobState

func (q readyQueue) Len() int { return len(q) }
func (q readyQueue) Less(i, j int) bool {
	if q[i].job.Priority != q[j].job.Priority {
		return q[i].job.Priority > q[j].job.Priority
	}
	return q[i].job.ID < q[j].job.ID
}
func (q readyQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].queueIndex = i
	q[j].queueIndex = j
}
func (q *readyQueue) Push(x any) {
	js := x.(*jobState)
	js.queueIndex = len(*q)
	*q = append(*q, js)
}
func (q *readyQueue) Pop() any {
	old := *q
	js := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	js.queueIndex = -1
	return js
}

func (c *Controller) enqueue(js *jobState) {
	if js.queueIndex < 0 {
		heap.Push(&c.ready, js)
	}
}

func (c *Controller) dequeue(js *jobState) {
	if js.queueIndex < 0 {
		return
	}
	if isPoolJob(js) {
		if p := c.poolSet[js.job.Pool]; p != nil && js.queueIndex < p.waiting.Len() && p.waiting[js.queueIndex] == js {
			heap.Remove(&p.waiting, js.queueIndex)
		}
		return
	}
	heap.Remove(&c.ready, js.queueIndex)
}

// schedule keeps the pools at their size and gives their free workers to
// waiting pool jobs, then starts waiting jobs while launch slots are free.
func (c *Controller) schedule() {
	c.schedulePools()
	for c.ready.Len() > 0 {
		js := c.ready[0]
		if !c.slots.acquire(js) {
			break // nobody behind the head can start either
		}
		heap.Pop(&c.ready)
		c.guard(js, func() error { return c.advance(js) })
	}
	c.publishPools()
}

// save writes the job row, the given tasks and attempts in one transaction
// and wakes anyone following the job.
func (c *Controller) save(js *jobState, tasks []*taskState, atts ...*store.Attempt) error {
	ch := store.Change{Job: &js.job}
	if js.group() {
		mirrorGroup(js)
		tasks = js.tasks // a job group's tasks move together
	}
	for _, t := range tasks {
		ch.Tasks = append(ch.Tasks, t.rec)
	}
	for _, a := range atts {
		if a != nil {
			ch.Attempts = append(ch.Attempts, *a)
		}
	}
	// Not cancelled with the loop: a decision taken is recorded.
	if err := c.store.Save(context.WithoutCancel(c.ctx), ch); err != nil {
		return err
	}
	all := make([]store.Task, len(js.tasks))
	for i, t := range js.tasks {
		all[i] = t.rec
	}
	c.view.put(js.job, all)
	c.notes.notify(js.job.ID)
	c.observe(js, tasks, atts)
	return nil
}

// mirrorGroup gives every task of a job group what its attempt (task 0's)
// says: status, times, counters, and each task's own placement.
func mirrorGroup(js *jobState) {
	lead := js.tasks[0].rec
	for i, t := range js.tasks[1:] {
		r := &t.rec
		r.Status, r.SubmittedAt, r.StartedAt, r.EndedAt = lead.Status, lead.SubmittedAt, lead.StartedAt, lead.EndedAt
		r.RunTime, r.RunningSince = lead.RunTime, lead.RunningSince
		r.Attempt, r.Restarts, r.Recoveries, r.FailureReason = lead.Attempt, lead.Restarts, lead.Recoveries, lead.FailureReason
		if lead.Choice != nil && i+1 < len(lead.Choice.Members) {
			ch := lead.Choice.Members[i+1]
			r.Choice = &ch
		}
	}
}

// failController ends a job FAILED_CONTROLLER after an internal error.
func (c *Controller) failController(js *jobState, cause error) {
	id := js.job.ID
	c.log.Error("job failed by a controller error", "job", id, "err", cause)
	if js.job.Status.Terminal() {
		return
	}
	reason := "controller error: " + firstLine(cause.Error())
	c.jlogf(id, "internal error: %v", cause)
	t := js.cur()
	var att *store.Attempt
	if t.att != nil && t.att.Live() {
		if !t.launching {
			c.stopDetached(refOf(t.att))
		}
		a := *t.att
		a.State, a.Outcome, a.EndedAt = store.AttemptEnded, store.OutcomeAbandoned, c.now()
		att = &a
	}
	now := c.now()
	t.closeInterval(now)
	t.stopBilling(now)
	t.rec.Status, t.rec.FailureReason, t.rec.EndedAt = api.StatusFailedController, reason, now
	changed := []*taskState{t}
	for _, later := range js.tasks[js.job.CurrentTask+1:] {
		if !later.rec.Status.Terminal() {
			later.rec.Status = api.StatusCancelled
			changed = append(changed, later)
		}
	}
	js.job.Status, js.job.FailureReason, js.job.EndedAt = api.StatusFailedController, reason, now
	if err := c.save(js, changed, att); err != nil {
		c.log.Error("cannot record FAILED_CONTROLLER; the job is retried at the next start", "job", id, "err", err)
	}
	c.jlogf(id, "job finished: FAILED_CONTROLLER (%s)", reason)
	c.forget(js)
}

// forget drops a finished job from memory and gives back its slots.
func (c *Controller) forget(js *jobState) {
	if t := js.cur(); t.launching && t.att != nil && t.att.Live() {
		// Its launch is still in flight and nothing says the attempt
		// ended: stop it once the launch returns.
		c.stopOnReturn[refOf(t.att)] = true
	}
	c.dequeue(js)
	c.slots.finished(js)
	c.releaseWorker(js)
	js.stopTimers()
	delete(c.jobs, js.job.ID)
	c.jlog.close(js.job.ID)
}

// stopDetached stops an attempt nobody waits for (a job that ended while
// its attempt was still out there).
func (c *Controller) stopDetached(ref engine.Ref) {
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		if err := c.eng.Stop(c.ctx, ref); err != nil {
			c.log.Warn("stopping an abandoned attempt failed", "ref", ref.String(), "err", err)
		}
	}()
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
