package jobs

import (
	"container/heap"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// Worker pools (reference §6). A pool's workers are jobs of kind worker:
// each runs the pool file's task with its run replaced by engine.WorkerRun,
// so it runs setup once and then holds its node until stopped. They are
// managed like any job: a lost worker is recovered (replaced) without
// limit, a worker whose setup fails is restarted up to workerSetupTries
// times, and after that the pool is FAILED. Jobs submitted to the pool wait
// in the pool's own queue until a worker is ready and free; one job runs on
// a worker at a time, beside it (engine.Attempt.Worker). A job whose worker
// is lost is recovered on another worker, counted as a recovery.
//
// reconcilePools keeps every pool at its size and version: it starts
// missing workers, rolls workers of an older version one at a time (an
// idle one is stopped once every worker of the new version is ready, and
// its replacement started), stops idle workers beyond the size, and stops
// every worker of a pool taken down or failed.

// workerSetupTries is how many times a worker's setup may fail before its
// pool is FAILED.
const workerSetupTries = 3

// poolState is the loop's view of one pool.
type poolState struct {
	rec store.Pool
	// waiting holds the pool's jobs that need a worker, by priority then id.
	waiting readyQueue
	// workers are the pool's unfinished worker jobs, by job id.
	workers map[int64]*jobState
	// busy maps a worker job to the pool job holding it.
	busy map[int64]*jobState
	// lastSetupExit is the exit code of the last failed worker setup.
	lastSetupExit *int
	// gone maps a worker job to its attempt that the engine found gone
	// when a job was launched beside it (engine.ErrNotFound) before the
	// loss reached the worker itself: that attempt takes no job again.
	gone map[int64]int
}

func newPoolState(rec store.Pool) *poolState {
	return &poolState{rec: rec, workers: map[int64]*jobState{}, busy: map[int64]*jobState{}, gone: map[int64]int{}}
}

// usable reports whether a worker may be given a job: ready, and not on
// an attempt the engine found gone.
func (p *poolState) usable(w *jobState) bool {
	return workerReady(w) && p.gone[w.job.ID] != w.cur().att.Number
}

// isPoolJob reports whether js was submitted to a pool (not a worker).
func isPoolJob(js *jobState) bool { return js.job.Pool != "" && !js.job.IsWorker() }

// workerReady reports whether a worker job finished setup and holds its
// node: jobs may be placed beside its current attempt.
func workerReady(w *jobState) bool {
	t := w.cur()
	return w.job.Status == api.StatusRunning && t.att != nil && t.att.Live() && !t.att.RunAt.IsZero() &&
		!t.launching && !t.stopping
}

// loadPools reads the pools at start.
func (c *Controller) loadPools(ctx context.Context) error {
	recs, err := c.store.Pools(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		c.poolSet[r.Name] = newPoolState(r)
	}
	c.publishPools()
	return nil
}

// adoptPoolMember links a job restored from the store to its pool: a
// worker joins its pool's workers; a pool job whose attempt is live takes
// back the worker it runs on.
func (c *Controller) adoptPoolMember(js *jobState) {
	if js.job.Pool == "" {
		return
	}
	p := c.poolSet[js.job.Pool]
	if js.job.IsWorker() {
		if p == nil { // its pool row is gone: the worker goes too
			p = newPoolState(store.Pool{Name: js.job.Pool, State: store.PoolDown})
			c.poolSet[js.job.Pool] = p
		}
		p.workers[js.job.ID] = js
		return
	}
	t := js.cur()
	if p == nil || t.att == nil || t.att.WorkerJob == 0 || !(t.att.Live() || t.launching) {
		return
	}
	if w, ok := c.jobs[t.att.WorkerJob]; ok && w.job.IsWorker() && p.busy[w.job.ID] == nil {
		js.worker = w
		p.busy[w.job.ID] = js
	}
}

// enqueuePool puts a pool job in its pool's queue.
func (c *Controller) enqueuePool(js *jobState) {
	p := c.poolSet[js.job.Pool]
	if p == nil {
		return
	}
	if js.queueIndex < 0 {
		heap.Push(&p.waiting, js)
	}
}

// releaseWorker gives back the worker js holds.
func (c *Controller) releaseWorker(js *jobState) {
	w := js.worker
	if w == nil {
		return
	}
	js.worker = nil
	if p := c.poolSet[js.job.Pool]; p != nil && p.busy[w.job.ID] == js {
		delete(p.busy, w.job.ID)
	}
}

// poolJobNeedsWorker decides, in advance, about a pool job that is ready to
// launch: it keeps a worker that is still ready, else it gives it back and
// waits for one. It reports whether the job may launch now.
func (c *Controller) poolJobNeedsWorker(js *jobState) bool {
	if w := js.worker; w != nil {
		if p := c.poolSet[js.job.Pool]; p != nil && p.usable(w) {
			return true
		}
		c.releaseWorker(js)
	}
	c.enqueuePool(js)
	return false
}

// schedulePools runs at every loop turn (schedule): pools are reconciled
// and free workers are given to waiting jobs.
func (c *Controller) schedulePools() {
	if len(c.poolSet) == 0 {
		return
	}
	for _, name := range c.poolNames() {
		p := c.poolSet[name]
		c.reconcilePool(p)
		for p.waiting.Len() > 0 {
			w := c.freeWorker(p)
			if w == nil {
				break
			}
			js := heap.Pop(&p.waiting).(*jobState)
			js.worker = w
			p.busy[w.job.ID] = js
			c.guard(js, func() error { return c.advance(js) })
			if p.busy[w.job.ID] != js && js.queueIndex >= 0 {
				break // it did not take the worker: try again next turn
			}
		}
	}
}

func (c *Controller) poolNames() []string {
	names := make([]string, 0, len(c.poolSet))
	for n := range c.poolSet {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// freeWorker returns a ready worker nobody holds, of the pool's current
// version first (lowest id first), or nil.
func (c *Controller) freeWorker(p *poolState) *jobState {
	if p.rec.State != store.PoolActive {
		return nil
	}
	var best *jobState
	for id, w := range p.workers {
		if p.busy[id] != nil || !p.usable(w) || w.job.Status == api.StatusCancelling {
			continue
		}
		if best == nil || better(w, best, p.rec.Version) {
			best = w
		}
	}
	return best
}

func better(a, b *jobState, version int) bool {
	if (a.job.PoolVersion == version) != (b.job.PoolVersion == version) {
		return a.job.PoolVersion == version
	}
	return a.job.ID < b.job.ID
}

// reconcilePool brings the pool's workers to what it asks.
func (c *Controller) reconcilePool(p *poolState) {
	// Workers that ended leave the pool. One that ended by itself (its
	// setup failed on every try, its hold ended) fails the pool: starting
	// another would fail the same way, again and again.
	for id, w := range p.workers {
		if !w.job.Status.Terminal() {
			continue
		}
		delete(p.workers, id)
		delete(p.gone, id)
		if holder := p.busy[id]; holder != nil {
			c.workerLost(p, w, holder)
		}
		if w.job.Status != api.StatusCancelled && p.rec.State == store.PoolActive {
			c.failPool(p, w)
		}
	}
	// A job whose worker's attempt is gone (lost, replaced) is recovered.
	for id, holder := range p.busy {
		w := p.workers[id]
		t := holder.cur()
		if w == nil || holder.job.Status.Terminal() {
			continue
		}
		wa := w.cur().att
		if t.att != nil && t.att.Live() && t.att.WorkerJob == id && (wa == nil || !wa.Live() || wa.Number != t.att.WorkerAttempt) {
			c.workerLost(p, w, holder)
		}
	}
	switch p.rec.State {
	case store.PoolDown, store.PoolFailed:
		why := "pool " + p.rec.Name + " is FAILED"
		if p.rec.State == store.PoolDown {
			why = "pool " + p.rec.Name + " is taken down"
		}
		for id, w := range p.workers {
			// A failed pool lets busy workers finish their job.
			if p.busy[id] == nil || p.rec.State == store.PoolDown {
				c.stopWorker(w, why)
			}
		}
		if p.rec.State == store.PoolDown && len(p.workers) == 0 {
			if err := c.store.DeletePool(context.WithoutCancel(c.ctx), p.rec.Name); err != nil {
				c.log.Error("cannot delete a pool that is down; retried later", "pool", p.rec.Name, "err", err)
				return
			}
			c.log.Info("pool is down", "pool", p.rec.Name)
			delete(c.poolSet, p.rec.Name)
		}
		return
	}
	var current, old []*jobState
	settingUp := false
	for _, w := range p.workers {
		if w.job.Status == api.StatusCancelling {
			continue
		}
		if w.job.PoolVersion == p.rec.Version {
			current = append(current, w)
			if !workerReady(w) {
				settingUp = true
			}
		} else {
			old = append(old, w)
		}
	}
	byID := func(ws []*jobState) {
		slices.SortFunc(ws, func(a, b *jobState) int { return int(a.job.ID - b.job.ID) })
	}
	byID(current)
	byID(old)
	// Roll: one worker at a time, idle ones only, once the new ones are up.
	if len(old) > 0 && !settingUp {
		for _, w := range old {
			if p.busy[w.job.ID] == nil {
				c.stopWorker(w, fmt.Sprintf("rolled to pool version %d", p.rec.Version))
				old = slices.DeleteFunc(old, func(x *jobState) bool { return x == w })
				break
			}
		}
	}
	live := len(current) + len(old)
	// Scale in: idle workers, old ones first.
	for _, ws := range [][]*jobState{old, current} {
		for i := len(ws) - 1; i >= 0 && live > p.rec.Workers; i-- {
			if p.busy[ws[i].job.ID] == nil {
				c.stopWorker(ws[i], fmt.Sprintf("pool %s scaled to %d workers", p.rec.Name, p.rec.Workers))
				live--
			}
		}
	}
	// Scale out (and replace rolled or failed workers): one at a time
	// while rolling, all at once otherwise.
	for live < p.rec.Workers {
		if err := c.startWorker(p); err != nil {
			c.log.Error("cannot start a pool worker; retried at the next turn", "pool", p.rec.Name, "err", err)
			return
		}
		live++
		if len(old) > 0 {
			break
		}
	}
}

// workerLost recovers the pool job that ran beside a worker whose attempt
// ended: the job moves to another worker, counted as a recovery.
func (c *Controller) workerLost(p *poolState, w *jobState, holder *jobState) {
	c.releaseWorker(holder)
	t := holder.cur()
	if holder.job.Status.Terminal() || t.att == nil || !t.att.Live() || t.launching || t.stopping {
		return
	}
	c.guard(holder, func() error {
		ev := engine.Event{Ref: refOf(t.att), Kind: engine.EventPreempted, Node: t.att.Node,
			Reason: fmt.Sprintf("worker %d of pool %s was lost", w.job.ID, p.rec.Name)}
		if err := c.onPreempted(holder, t, ev, c.now()); err != nil {
			return err
		}
		// It queues for a worker now, in its place by id, while its old
		// attempt is stopped: a worker it gets waits for the stop.
		c.enqueuePool(holder)
		return c.advance(holder)
	})
}

// failPool marks the pool FAILED after a worker's setup failed for good:
// its waiting jobs end FAILED_PRECHECKS, idle workers stop.
func (c *Controller) failPool(p *poolState, w *jobState) {
	t := w.cur()
	reason := fmt.Sprintf("worker %d ended %s: %s", w.job.ID, w.job.Status, w.job.FailureReason)
	if w.job.Status == api.StatusFailedSetup && t.rec.ExitCode != nil {
		code := *t.rec.ExitCode
		p.lastSetupExit = &code
		reason = fmt.Sprintf("worker %d: setup failed with exit code %d (%d tries)", w.job.ID, code, t.rec.Restarts+1)
	}
	p.rec.State, p.rec.FailureReason, p.rec.UpdatedAt = store.PoolFailed, reason, c.now()
	p.rec.FailedWorker = w.job.ID
	if err := c.store.PutPool(context.WithoutCancel(c.ctx), p.rec); err != nil {
		c.log.Error("cannot record a failed pool", "pool", p.rec.Name, "err", err)
	}
	c.log.Warn("pool failed", "pool", p.rec.Name, "reason", reason)
	for p.waiting.Len() > 0 {
		js := heap.Pop(&p.waiting).(*jobState)
		c.guard(js, func() error {
			return c.finish(js, api.StatusFailedPrechecks, fmt.Sprintf("pool %s FAILED: %s; fix the setup and run jobs pool apply again", p.rec.Name, reason))
		})
	}
}

// stopWorker cancels a worker job (it is not a user's job: its log says why).
func (c *Controller) stopWorker(w *jobState, why string) {
	if w.job.Status.Terminal() || w.job.Status == api.StatusCancelling {
		return
	}
	c.guard(w, func() error {
		_, err := c.cancelJob(w, "worker stopped: "+why)
		return err
	})
}

// startWorker records and queues a new worker of the pool's version.
func (c *Controller) startWorker(p *poolState) error {
	dag := workerDAG(p.rec.DAG)
	now := c.now()
	j := store.Job{
		Name: p.rec.Name + "-worker", User: p.rec.User, Status: api.StatusPending, Pool: p.rec.Name,
		Kind: store.KindWorker, PoolVersion: p.rec.Version, Priority: dag.Tasks[0].Resources.Priority,
		DAG: dag, SubmittedAt: now, NumJobs: 1,
	}
	tk := dag.Tasks[0]
	ts := []store.Task{{Index: 0, Name: tk.Name, Status: api.StatusPending, Requested: c.cfg.Requested(tk), SubmittedAt: now}}
	ids, err := c.store.CreateJobs(context.WithoutCancel(c.ctx), []store.Job{j}, [][]store.Task{ts})
	if err != nil {
		return err
	}
	j.ID, ts[0].JobID = ids[0], ids[0]
	js := restore(store.Record{Job: j, Tasks: ts})
	c.jobs[j.ID] = js
	p.workers[j.ID] = js
	c.feed.publish(api.JobEvent{ID: j.ID, Status: j.Status, Worker: true, Pool: j.Pool})
	c.jlogf(j.ID, "worker of pool %s (version %d): runs the pool's setup, then waits for jobs", p.rec.Name, p.rec.Version)
	c.guard(js, func() error { return c.reattach(js) })
	return nil
}

// workerDAG is what a worker runs: the pool's task with its run replaced
// by engine.WorkerRun and its setup restarted on failure.
func workerDAG(pool task.DAG) task.DAG {
	dag := pool
	dag.Tasks = slices.Clone(pool.Tasks)
	tk := dag.Tasks[0]
	tk.Run = engine.WorkerRun
	setTries := func(r *task.Resources) {
		r.JobRecovery = task.JobRecovery{Strategy: r.JobRecovery.Strategy, MaxRestartsOnErrors: workerSetupTries - 1}
	}
	setTries(&tk.Resources)
	tk.Candidates = slices.Clone(tk.Candidates)
	for i := range tk.Candidates {
		setTries(&tk.Candidates[i])
	}
	dag.Tasks[0] = tk
	return dag
}

// workerSpec is what makes workers of two pool files the same: everything
// but the size and the run section.
func workerSpec(dag task.DAG) task.Task {
	tk := dag.Tasks[0]
	tk.Pool, tk.Run = nil, ""
	return tk
}

// poolSize is the number of workers a pool block asks for.
func poolSize(ps *task.PoolSpec) (int, []string) {
	switch {
	case ps.Workers > 0:
		return ps.Workers, nil
	case ps.MinWorkers > 0 || ps.MaxWorkers > 0:
		n := max(ps.MinWorkers, 1)
		return n, []string{fmt.Sprintf("pool.min_workers/max_workers: pools do not autoscale yet; the pool keeps %d worker(s) (min_workers, at least 1)", n)}
	}
	return 1, nil
}

// ApplyPool creates a pool, or updates it: a changed setup, envs or
// resources rolls the workers one at a time; a changed size scales.
func (c *Controller) ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error) {
	if err := checkPoolName(req.Name); err != nil {
		return api.PoolApplyResponse{}, err
	}
	dag, err := normalizeDAG(req.DAG)
	if err != nil {
		return api.PoolApplyResponse{}, err
	}
	if len(dag.Tasks) != 1 || dag.Tasks[0].Pool == nil {
		return api.PoolApplyResponse{}, Invalid("a pool file holds one task with a pool: block (pool: {workers: N})")
	}
	size, warnings := poolSize(dag.Tasks[0].Pool)
	if reason := c.precheck(dag); reason != "" {
		return api.PoolApplyResponse{}, Invalid("no worker of pool %s could run: %s", req.Name, reason)
	}
	var resp api.PoolApplyResponse
	err = c.call(ctx, func() error {
		now := c.now()
		p := c.poolSet[req.Name]
		switch {
		case p == nil || p.rec.State == store.PoolDown && len(p.workers) == 0:
			p = newPoolState(store.Pool{Name: req.Name, User: req.User, DAG: dag, Version: 1, Workers: size,
				State: store.PoolActive, CreatedAt: now, UpdatedAt: now})
			resp.Created = true
		case p.rec.State == store.PoolDown:
			return Conflict("pool %s is still being taken down (%d worker(s) left); apply again once it is gone", req.Name, len(p.workers))
		default:
			if !reflect.DeepEqual(workerSpec(p.rec.DAG), workerSpec(dag)) || p.rec.State == store.PoolFailed {
				p.rec.Version++
				resp.Rolling = true
			}
			resp.Scaled = p.rec.Workers != size
			p.rec.DAG, p.rec.Workers, p.rec.User, p.rec.UpdatedAt = dag, size, req.User, now
			p.rec.State, p.rec.FailureReason, p.rec.FailedWorker = store.PoolActive, "", 0
		}
		if err := c.store.PutPool(context.WithoutCancel(c.ctx), p.rec); err != nil {
			return err
		}
		c.poolSet[req.Name] = p
		c.log.Info("pool applied", "pool", req.Name, "version", p.rec.Version, "workers", size)
		c.schedule()
		resp.Pool = c.poolAPI(p)
		return nil
	})
	resp.Warnings = warnings
	return resp, err
}

// checkPoolName accepts the names a Nomad node class and job can carry.
func checkPoolName(name string) error {
	if name == "" {
		return Invalid("a pool needs a name (-p NAME)")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '_') && i > 0
		if !ok || len(name) > 63 {
			return Invalid("pool name %q: use up to 63 lowercase letters, digits, '-' and '_', starting with a letter or digit", name)
		}
	}
	return nil
}

// DownPool takes pools down: their unfinished jobs are cancelled, then
// every worker stops; the pool is gone once its workers are.
func (c *Controller) DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error) {
	if req.All == (len(req.Names) > 0) {
		return api.PoolDownResponse{}, Invalid("give pool names or all, not both or neither")
	}
	resp := api.PoolDownResponse{Pools: []string{}}
	err := c.call(ctx, func() error {
		names := req.Names
		if req.All {
			names = nil
			for _, n := range c.poolNames() {
				if c.poolSet[n].rec.State != store.PoolDown {
					names = append(names, n)
				}
			}
		}
		for _, n := range names {
			if p := c.poolSet[n]; p == nil || p.rec.State == store.PoolDown {
				return NotFound("no pool named %s", n)
			}
		}
		for _, n := range names {
			p := c.poolSet[n]
			p.rec.State, p.rec.UpdatedAt = store.PoolDown, c.now()
			if err := c.store.PutPool(context.WithoutCancel(c.ctx), p.rec); err != nil {
				return err
			}
			resp.Pools = append(resp.Pools, n)
			for _, js := range c.poolJobs(n) {
				c.guard(js, func() error {
					did, err := c.cancelJob(js, "pool "+n+" was taken down")
					if did {
						resp.Cancelled = append(resp.Cancelled, js.job.ID)
					}
					return err
				})
			}
		}
		c.schedule()
		return nil
	})
	slices.Sort(resp.Cancelled)
	return resp, err
}

// poolJobs lists the unfinished jobs submitted to a pool, by id.
func (c *Controller) poolJobs(pool string) []*jobState {
	var out []*jobState
	for _, js := range c.jobs {
		if js.job.Pool == pool && !js.job.IsWorker() && !js.job.Status.Terminal() {
			out = append(out, js)
		}
	}
	slices.SortFunc(out, func(a, b *jobState) int { return int(a.job.ID - b.job.ID) })
	return out
}

// Pools describes the named pools (every pool when none is named).
func (c *Controller) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	var out []api.Pool
	err := c.call(ctx, func() error {
		want := names
		if len(want) == 0 {
			want = c.poolNames()
		}
		for _, n := range want {
			p := c.poolSet[n]
			if p == nil {
				return NotFound("no pool named %s", n)
			}
			out = append(out, c.poolAPI(p))
		}
		return nil
	})
	return out, err
}

// poolAPI describes a pool as `jobs pool status` shows it.
func (c *Controller) poolAPI(p *poolState) api.Pool {
	tk := p.rec.DAG.Tasks[0]
	out := api.Pool{
		Name: p.rec.Name, Version: p.rec.Version, Workers: p.rec.Workers, Requested: c.cfg.Requested(tk),
		CreatedAt: p.rec.CreatedAt, UpdatedAt: p.rec.UpdatedAt, FailureReason: p.rec.FailureReason,
		Resources: tk.Resources, Worker: []api.Worker{},
	}
	out.Choice = c.workerChoice(p)
	for _, js := range c.poolJobs(p.rec.Name) {
		if js.job.Status == api.StatusPending || js.worker == nil {
			out.PendingJobs++
		} else {
			out.RunningJobs++
		}
	}
	ids := make([]int64, 0, len(p.workers))
	for id := range p.workers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	old := false
	for _, id := range ids {
		w := p.workers[id]
		aw := workerAPI(p, w)
		out.Worker = append(out.Worker, aw)
		out.CostPerHour += aw.CostPerHour
		switch aw.Status {
		case api.WorkerIdle:
			out.Ready++
		case api.WorkerBusy:
			out.Ready++
			out.Busy++
		}
		if w.job.PoolVersion != p.rec.Version && aw.Status != api.WorkerStopping {
			old = true
		}
	}
	if id := p.rec.FailedWorker; id != 0 && p.rec.State == store.PoolFailed && p.workers[id] == nil {
		// Gone, but its log says why the pool failed (jobs pool logs).
		out.Worker = append(out.Worker, api.Worker{ID: id, Status: api.WorkerFailed, Version: p.rec.Version, SetupExitCode: p.lastSetupExit})
	}
	switch {
	case p.rec.State == store.PoolDown:
		out.Status = api.PoolShuttingDown
	case p.rec.State == store.PoolFailed:
		out.Status = api.PoolFailed
	case old:
		out.Status = api.PoolUpdating
	case out.Ready >= p.rec.Workers:
		out.Status = api.PoolReady
	default:
		out.Status = api.PoolProvisioning
	}
	return out
}

func workerAPI(p *poolState, w *jobState) api.Worker {
	t := w.cur()
	aw := api.Worker{ID: w.job.ID, Version: w.job.PoolVersion, Replaced: t.rec.Recoveries + t.rec.Restarts}
	if a := t.att; a != nil {
		aw.Node = a.Node
		aw.Infra, aw.Instance, aw.Spot = store.InfraOf(a.Choice), a.Choice.Offering.InstanceType, a.Choice.Spot
		if a.Live() {
			aw.CostPerHour = a.Choice.HourlyCost
		}
		if !a.RunAt.IsZero() && a.Live() {
			at := a.RunAt
			aw.ReadyAt = &at
		}
	}
	if t.rec.ExitCode != nil && *t.rec.ExitCode != 0 {
		aw.SetupExitCode = t.rec.ExitCode
	}
	holder := p.busy[w.job.ID]
	switch {
	case w.job.Status == api.StatusCancelling || w.job.Status.Terminal():
		aw.Status = api.WorkerStopping
	case workerReady(w) && holder != nil:
		aw.Status, aw.Job = api.WorkerBusy, holder.job.ID
	case workerReady(w):
		aw.Status = api.WorkerIdle
	case w.job.Status == api.StatusRecovering:
		aw.Status = api.WorkerRecovering
	case t.att != nil && t.att.Live() && !t.att.PlacedAt.IsZero():
		aw.Status = api.WorkerSettingUp
	default:
		aw.Status = api.WorkerProvisioning
	}
	return aw
}

// poolsView is what readers off the loop see of the pools: why a pool job
// waits, and which worker runs it.
type poolsView struct {
	pools  map[string]poolSummary
	worker map[int64]int64 // pool job → worker job
}

type poolSummary struct {
	state         string
	ready, busy   int
	workers       int
	failureReason string
}

// publishPools refreshes the readers' view of the pools.
func (c *Controller) publishPools() {
	if old := c.poolView.Load(); len(c.poolSet) == 0 && old != nil && len(old.pools) == 0 {
		return // no pool, none shown: nothing to allocate at every turn
	}
	v := &poolsView{pools: map[string]poolSummary{}, worker: map[int64]int64{}}
	for name, p := range c.poolSet {
		s := poolSummary{state: p.rec.State, workers: p.rec.Workers, failureReason: p.rec.FailureReason}
		for id, w := range p.workers {
			if workerReady(w) {
				s.ready++
				if h := p.busy[id]; h != nil {
					s.busy++
				}
			}
		}
		for id, h := range p.busy {
			v.worker[h.job.ID] = id
		}
		v.pools[name] = s
	}
	c.poolView.Store(v)
}

// poolDetails fills Details and Worker of a pool job as of now: the reason
// it waits is worked out from the pools' state at the time of the answer.
func (c *Controller) poolDetails(j *api.Job) {
	if j.Pool == "" || j.Status.Terminal() {
		return
	}
	v := c.poolView.Load()
	if v == nil {
		return
	}
	if w, ok := v.worker[j.ID]; ok {
		j.Worker = w
		return
	}
	s, ok := v.pools[j.Pool]
	switch {
	case !ok || s.state == store.PoolDown:
		j.Details = fmt.Sprintf("pool %s was taken down", j.Pool)
	case s.state == store.PoolFailed:
		j.Details = fmt.Sprintf("pool %s FAILED: %s", j.Pool, s.failureReason)
	case s.ready == 0:
		j.Details = fmt.Sprintf("waiting for pool %s's workers to finish setup (0/%d ready)", j.Pool, s.workers)
	default:
		j.Details = fmt.Sprintf("waiting for a free worker of pool %s (%d/%d busy)", j.Pool, s.busy, s.ready)
	}
}

// checkPoolJob refuses a job for a pool that does not exist or that it
// does not fit.
func (c *Controller) checkPoolJob(ctx context.Context, pool string, dag task.DAG) error {
	if dag.IsPipeline() {
		return Invalid("a pipeline cannot be submitted to a pool; submit its tasks one by one")
	}
	if dag.IsGroup() {
		return Invalid("a job group cannot be submitted to a pool: its tasks start together on nodes of their own")
	}
	var worker *catalog.Choice
	err := c.call(ctx, func() error {
		p := c.poolSet[pool]
		if p == nil || p.rec.State == store.PoolDown {
			return NotFound("no pool named %s; create it with: skynomad jobs pool apply -p %s POOL.yaml", pool, pool)
		}
		if p.rec.State == store.PoolFailed {
			return Conflict("pool %s FAILED (%s); fix it with jobs pool apply -p %s POOL.yaml", pool, p.rec.FailureReason, pool)
		}
		worker = c.workerChoice(p)
		return nil
	})
	if err != nil || worker == nil {
		return err
	}
	if why := workerMisfit(dag.Tasks[0], worker.Offering); why != "" {
		return Invalid("the job's resources do not fit a worker of pool %s: %s", pool, why)
	}
	return nil
}

// workerChoice is where the pool's workers run: a worker's placement, or,
// before any worker is placed, what the optimizer chooses for the pool's
// task (nil when nothing fits it).
func (c *Controller) workerChoice(p *poolState) *catalog.Choice {
	for _, w := range p.workers {
		if a := w.cur().att; a != nil && w.job.PoolVersion == p.rec.Version {
			ch := a.Choice
			return &ch
		}
	}
	choices, err := c.cfg.Planner.Plan(p.rec.DAG.Tasks[0], catalog.Constraints{Clouds: c.cfg.Clouds})
	if err != nil || len(choices) == 0 {
		return nil
	}
	return &choices[0]
}

// workerMisfit says why a job's resources do not fit a pool worker of
// offering off, or "" when they fit: every candidate of the job must.
func workerMisfit(job task.Task, off catalog.Offering) string {
	for i, cand := range job.Candidates {
		if why := catalog.WorkerMisfit(cand, off); why != "" {
			if len(job.Candidates) > 1 {
				why = fmt.Sprintf("candidate %d: %s", i, why)
			}
			return fmt.Sprintf("%s; a worker is %s", why, off.Describe())
		}
	}
	return ""
}
