package nomad

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/render"
)

// Launch registers the attempt as a new version of the task's Nomad job.
// It is idempotent: an attempt whose version is already registered (by
// this process or an earlier one), or that runs as an adopted replacement,
// is only re-attached. Before registering, any alloc of an older attempt
// still wanting to run is stopped and waited for, so two attempts never
// run at once.
//
// A job submitted to a pool (Attempt.Worker set) is placed beside its
// worker (see workerAlloc): while the worker attempt is not running yet
// Launch returns an error to retry; once it is gone for good, an error
// wrapping engine.ErrNotFound that says so. Nothing is registered then.
func (e *Engine) Launch(ctx context.Context, a *engine.Attempt) error {
	jobID := JobID(a.Ref)
	unlock := e.lockJob(jobID)
	defer unlock()

	e.mu.Lock()
	if w := e.watches[jobID]; w != nil && w.ref == a.Ref && w.registered {
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()

	cur, rec, err := e.current(ctx, jobID)
	if err != nil {
		return err
	}
	n := rec.current(attemptOf(cur))
	switch {
	case cur != nil && n == a.Ref.Attempt:
		return e.attach(ctx, a.Ref, cur, rec)
	case cur != nil && n > a.Ref.Attempt:
		return fmt.Errorf("nomad: job %s already runs attempt %d, newer than %d", jobID, n, a.Ref.Attempt)
	}
	opts := e.cfg.Render
	if a.Worker != nil {
		where, err := e.workerAlloc(ctx, *a.Worker)
		if err != nil {
			return fmt.Errorf("nomad: launch %s on pool %s: %w", a.Ref, a.Pool, err)
		}
		opts.Worker = &where
	}
	if cur != nil {
		// The controller has moved on from the older attempt: whatever
		// happens to it now is not reported.
		e.mu.Lock()
		old := e.watches[jobID]
		if old != nil && old.ref.Attempt != n {
			old = nil
		}
		if old != nil {
			old.ended = true
			old.signal()
		}
		e.mu.Unlock()
		if err := e.retireOlder(ctx, jobID, n, cur, old); err != nil {
			return err
		}
	}

	job, err := render.RenderJob(a, opts)
	if engine.IsInfeasible(err) {
		return err
	}
	if err != nil {
		return fmt.Errorf("nomad: render %s: %w", a.Ref, err)
	}
	if job.ID == nil || *job.ID != jobID {
		return fmt.Errorf("nomad: rendered job ID %q, want %q", deref(job.ID), jobID)
	}
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[naming.MetaAttempt] = strconv.Itoa(a.Ref.Attempt)

	if len(a.Secrets)+len(a.FilesEnv) > 0 {
		items := api.VariableItems{}
		for _, s := range append(a.FilesEnv[:len(a.FilesEnv):len(a.FilesEnv)], a.Secrets...) {
			items[s.Name] = s.Value
		}
		if _, _, err := e.client.Variables().Create(&api.Variable{Path: naming.SecretsVariable(jobID), Items: items}, wo(ctx)); err != nil {
			return fmt.Errorf("nomad: write secrets of %s: %w", jobID, err)
		}
	}

	w := newWatch(jobID, a.Ref, groupCount(job))
	w.roles = rolesOf(job)
	w.launched = e.cfg.Clock.Now()
	e.watchCapacity(w, job)
	e.mu.Lock()
	e.watches[jobID] = w
	e.mu.Unlock()

	resp, _, err := e.client.Jobs().Register(job, wo(ctx))
	if err != nil {
		e.mu.Lock()
		delete(e.watches, jobID)
		e.mu.Unlock()
		return fmt.Errorf("nomad: register %s: %w", jobID, err)
	}
	e.mu.Lock()
	w.since, w.registered = resp.JobModifyIndex, true
	e.mu.Unlock()
	e.log.Info("registered attempt", "job", jobID, "ref", a.Ref.String(), "job_modify_index", resp.JobModifyIndex)
	e.refresh(ctx, jobID)
	e.stepLocked(ctx, jobID)
	return nil
}

// Resume re-attaches to an attempt after a controller restart and emits
// what it finds. If the engine adopted Nomad's replacement of the attempt
// (and maybe of that one too) and the controller missed it, the Preempted
// events with their Replacement are emitted again and the latest adopted
// attempt is watched.
func (e *Engine) Resume(ctx context.Context, a *engine.Attempt) error {
	jobID := JobID(a.Ref)
	unlock := e.lockJob(jobID)
	defer unlock()
	cur, rec, err := e.current(ctx, jobID)
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("nomad: %s: %w", a.Ref, engine.ErrNotFound)
	}
	registered := attemptOf(cur)
	n := rec.current(registered)
	switch {
	case n < a.Ref.Attempt:
		return fmt.Errorf("nomad: %s: %w", a.Ref, engine.ErrNotFound)
	case a.Ref.Attempt < registered:
		// The controller launched a newer attempt and lost track of it.
		e.mu.Lock()
		e.enqueue(engine.Event{Ref: a.Ref, Kind: engine.EventStopped, Time: e.cfg.Clock.Now(),
			Reason: fmt.Sprintf("superseded by attempt %d in Nomad", n)})
		e.mu.Unlock()
		return nil
	case a.Ref.Attempt < n:
		// Replaced and adopted while the controller was away.
		e.mu.Lock()
		for k := a.Ref.Attempt; k < n; k++ {
			from, to := a.Ref, a.Ref
			from.Attempt, to.Attempt = k, k+1
			e.enqueue(engine.Event{Ref: from, Kind: engine.EventPreempted, Time: e.cfg.Clock.Now(),
				Node: rec.nodes[k], Reason: rec.reasons[k], Replacement: &to})
		}
		e.mu.Unlock()
		ref := a.Ref
		ref.Attempt = n
		return e.attach(ctx, ref, cur, rec)
	}
	return e.attach(ctx, a.Ref, cur, rec)
}

// Stop stops the attempt (deregister, no purge) and returns once none of
// its allocs runs; EventStopped follows unless the attempt had already
// ended.
func (e *Engine) Stop(ctx context.Context, ref engine.Ref) error {
	jobID := JobID(ref)
	unlock := e.lockJob(jobID)
	e.mu.Lock()
	w := e.watches[jobID]
	e.mu.Unlock()
	if w == nil || w.ref != ref {
		cur, rec, err := e.current(ctx, jobID)
		if err != nil {
			unlock()
			return err
		}
		if cur == nil || rec.current(attemptOf(cur)) != ref.Attempt {
			unlock()
			return nil // never launched, or superseded (maybe by an adopted replacement)
		}
		if err := e.attach(ctx, ref, cur, rec); err != nil {
			unlock()
			return err
		}
		e.mu.Lock()
		w = e.watches[jobID]
		e.mu.Unlock()
	}
	e.mu.Lock()
	if w.ended {
		e.mu.Unlock()
		unlock()
		return nil
	}
	w.stopRequested = true
	e.mu.Unlock()
	e.stepLocked(ctx, jobID)
	unlock()

	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	for {
		e.mu.Lock()
		ended, changed := w.ended, w.changed
		e.mu.Unlock()
		if ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nomad: stop %s: %w", ref, ctx.Err())
		case <-changed:
		case <-ticker.C:
			e.kick(jobID, true)
		}
	}
}

// attach watches the job's current attempt ref: its first version from
// the job history (or, for an adopted attempt, its replacement alloc from
// the record rec), a stop skynomad recorded, then its current state. The
// caller holds the job lock.
func (e *Engine) attach(ctx context.Context, ref engine.Ref, cur *api.Job, rec *adoptions) error {
	jobID := JobID(ref)
	w, err := e.watchOf(ctx, ref, cur, rec)
	if err != nil {
		return err
	}
	if cur.Stop != nil && *cur.Stop {
		reason, err := e.readStopMarker(ctx, jobID, ref.Attempt)
		if err != nil {
			return err
		}
		w.jobStopped = true
		if reason != "" {
			w.selfStop, w.deregistered = reason, true
			w.stopRequested = reason == stopRequested
			w.noCapacity = reason == stopNoCapacity
		}
	}
	e.mu.Lock()
	if old := e.watches[jobID]; old != nil && old.ref == ref {
		// Keep what this process already knows (emitted events, notices).
		e.mu.Unlock()
		e.refresh(ctx, jobID)
		e.stepLocked(ctx, jobID)
		return nil
	}
	e.watches[jobID] = w
	e.mu.Unlock()
	e.refresh(ctx, jobID)
	e.stepLocked(ctx, jobID)
	return nil
}

// watchOf is a watch of the job's current attempt ref, not registered
// with the engine: where its allocs begin, from the job history (the first
// version of its attempt), or, for an adopted attempt, its replacement
// alloc from the record rec.
func (e *Engine) watchOf(ctx context.Context, ref engine.Ref, cur *api.Job, rec *adoptions) (*watch, error) {
	jobID := JobID(ref)
	versions, _, _, err := e.client.Jobs().Versions(jobID, false, qo(ctx))
	if err != nil {
		return nil, fmt.Errorf("nomad: versions of %s: %w", jobID, err)
	}
	registered := attemptOf(cur)
	w := newWatch(jobID, ref, groupCount(cur))
	w.roles = rolesOf(cur)
	w.version = registered
	e.watchCapacity(w, cur)
	// Versions come newest first; the attempt began at the oldest of the
	// newest run of versions carrying its number.
	for _, v := range versions {
		if attemptOf(v) != registered {
			break
		}
		w.since = deref(v.JobModifyIndex)
		if t := deref(v.SubmitTime); t > 0 {
			w.launched = time.Unix(0, t)
		}
	}
	if ref.Attempt > registered {
		// An adopted replacement: it was placed when it was adopted.
		w.adopted, w.count, w.launched = rec.allocOf(ref.Attempt), 1, e.cfg.Clock.Now()
		if w.adopted == "" {
			return nil, fmt.Errorf("nomad: %s: no adopted alloc recorded: %w", ref, engine.ErrNotFound)
		}
	}
	w.registered = true
	return w, nil
}

// workerAlloc finds where pool worker attempt ref runs, for a job of its
// pool to run beside it: the attempt's alloc, running, and its node, as
// Nomad has them now. While the worker is on its way (not registered, not
// placed, setting up) it returns an error to retry. Once the attempt is
// gone for good (its job purged or stopped, a newer attempt in its place,
// its alloc ended or stopping) the error wraps engine.ErrNotFound.
func (e *Engine) workerAlloc(ctx context.Context, ref engine.Ref) (render.WorkerAlloc, error) {
	jobID := JobID(ref)
	gone := func(format string, args ...any) (render.WorkerAlloc, error) {
		return render.WorkerAlloc{}, fmt.Errorf("pool worker %s is gone: %s: %w", ref, fmt.Sprintf(format, args...), engine.ErrNotFound)
	}
	cur, rec, err := e.current(ctx, jobID)
	if err != nil {
		return render.WorkerAlloc{}, err
	}
	if cur == nil {
		return gone("Nomad job %s does not exist", jobID)
	}
	switch n := rec.current(attemptOf(cur)); {
	case n > ref.Attempt:
		return gone("Nomad job %s runs attempt %d now", jobID, n)
	case n < ref.Attempt:
		return render.WorkerAlloc{}, fmt.Errorf("pool worker %s is not registered yet: Nomad job %s runs attempt %d", ref, jobID, n)
	}
	if cur.Stop != nil && *cur.Stop {
		return gone("Nomad job %s is stopped", jobID)
	}
	w, err := e.watchOf(ctx, ref, cur, rec)
	if err != nil {
		return render.WorkerAlloc{}, err
	}
	stubs, _, err := e.client.Jobs().Allocations(jobID, false, qo(ctx))
	if err != nil {
		return render.WorkerAlloc{}, fmt.Errorf("nomad: list allocations of %s: %w", jobID, err)
	}
	for _, s := range stubs {
		w.allocs[s.ID] = viewOfStub(s)
	}
	allocs := w.originals()
	if len(allocs) == 0 {
		return render.WorkerAlloc{}, fmt.Errorf("pool worker %s is not placed yet", ref)
	}
	v := allocs[0]
	switch {
	case v.terminal():
		return gone("its alloc %s is %s", v.ID, v.ClientStatus)
	case v.DesiredStatus != api.AllocDesiredStatusRun:
		return gone("its alloc %s is being stopped (%s)", v.ID, v.Desc)
	case v.ClientStatus != api.AllocClientStatusRunning:
		return render.WorkerAlloc{}, fmt.Errorf("pool worker %s is not running yet: its alloc %s is %s", ref, v.ID, v.ClientStatus)
	case !v.started(taskRun):
		return render.WorkerAlloc{}, fmt.Errorf("pool worker %s is not ready yet: its alloc %s runs setup", ref, v.ID)
	}
	return render.WorkerAlloc{AllocID: v.ID, NodeID: v.NodeID}, nil
}

// retireOlder makes sure no alloc of an older attempt (the job's current
// one is attempt) still runs before a new attempt registers: if one wants
// to run, the job is stopped first; then Launch waits until none is
// pending or running.
func (e *Engine) retireOlder(ctx context.Context, jobID string, attempt int, cur *api.Job, old *watch) error {
	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	stopped := cur.Stop != nil && *cur.Stop
	for {
		stubs, _, err := e.client.Jobs().Allocations(jobID, false, qo(ctx))
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("nomad: list allocations of %s: %w", jobID, err)
		}
		live := 0
		for _, s := range stubs {
			if !viewOfStub(s).terminal() {
				live++
				if !stopped && s.DesiredStatus == api.AllocDesiredStatusRun {
					if err := e.deregister(ctx, jobID, attempt, stopSuperseded, old); err != nil {
						return err
					}
					stopped = true
				}
			}
		}
		if live == 0 {
			return nil
		}
		e.log.Info("waiting for the previous attempt's allocs to stop", "job", jobID, "allocs", live)
		select {
		case <-ctx.Done():
			return fmt.Errorf("nomad: wait for previous attempt of %s: %w", jobID, ctx.Err())
		case <-ticker.C:
		}
	}
}

func (e *Engine) jobInfo(ctx context.Context, jobID string) (*api.Job, error) {
	job, _, err := e.client.Jobs().Info(jobID, qo(ctx))
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nomad: read job %s: %w", jobID, err)
	}
	return job, nil
}

// groupCount is the node count of the attempt: every task group's (one,
// naming.GroupName, but for a job group).
func groupCount(job *api.Job) int {
	n := 0
	for _, g := range job.TaskGroups {
		if g.Count != nil {
			n += *g.Count
		} else {
			n++
		}
	}
	return max(n, 1)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// watchCapacity has an unplaced attempt of job give up when a cloud refuses
// the capacity of the node class it waits for: its offering's, or for a
// pool's worker the pool's (the class the pool's autoscaler policy
// launches). A job submitted to a pool waits for no capacity: it is pinned
// to its worker's node.
func (e *Engine) watchCapacity(w *watch, job *api.Job) {
	pool := job.Meta[naming.MetaPool]
	switch {
	case pool != "" && job.Meta[naming.MetaPoolWorker] == "true":
		w.class = naming.PoolNodeClass(pool)
	case pool != "":
		return
	default:
		w.class = job.Meta[naming.MetaOffering]
	}
	w.capacityEvery = e.cfg.PollInterval
}
