package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// Queue lists jobs newest first, as `jobs queue` shows them. Without All
// (or SkipFinished, or ids) it returns every unfinished job and the
// RecentFinished newest finished ones. It answers from the in-memory
// queue view; a request reaching past the view reads the store (two
// queries, whatever the number of jobs). InProgress counts every
// unfinished job of req.User (of every user when empty), whatever rows the
// request selects.
func (c *Controller) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	f := store.Filter{IDs: req.JobIDs, User: req.User, Active: req.SkipFinished, Limit: req.Limit,
		Pool: req.Pool, Kind: &managedJobs}
	if !req.All && !req.SkipFinished && len(req.JobIDs) == 0 {
		f.RecentFinished = c.cfg.RecentFinished
	}
	now := c.now()
	var out []api.Job
	if entries, ok := c.view.query(f); ok {
		out = make([]api.Job, len(entries))
		for i, e := range entries {
			out[i] = e.api(now)
		}
	} else {
		jobs, tasks, err := c.store.List(ctx, f)
		if err != nil {
			return api.QueueResponse{}, fmt.Errorf("jobs: queue: %w", err)
		}
		out = make([]api.Job, len(jobs))
		for i := range jobs {
			out[i] = toAPI(&jobs[i], tasks[jobs[i].ID], now)
		}
	}
	for i := range out {
		c.details(&out[i])
	}
	inProgress, err := c.inProgress(ctx, req.User)
	if err != nil {
		return api.QueueResponse{}, err
	}
	return api.QueueResponse{Jobs: out, InProgress: inProgress}, nil
}

// managedJobs selects the jobs users submitted (not pool workers).
var managedJobs = store.KindJob

// inProgress counts the unfinished jobs of user (of every user when
// empty) by status, from the queue view once it is loaded.
func (c *Controller) inProgress(ctx context.Context, user string) (map[api.Status]int, error) {
	if counts, ok := c.view.inProgress(user); ok {
		return counts, nil
	}
	active, _, err := c.store.List(ctx, store.Filter{Active: true, User: user, Kind: &managedJobs})
	if err != nil {
		return nil, fmt.Errorf("jobs: queue: %w", err)
	}
	counts := map[api.Status]int{}
	for _, j := range active {
		counts[j.Status]++
	}
	return counts, nil
}

// Job returns one job.
func (c *Controller) Job(ctx context.Context, id int64) (api.Job, error) {
	if e, ok := c.view.get(id); ok {
		j := e.api(c.now())
		c.details(&j)
		return j, nil
	}
	rec, err := c.get(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	j := toAPI(&rec.Job, rec.Tasks, c.now())
	c.details(&j)
	return j, nil
}

// details adds what an unfinished job waits for, as of now: a pool's
// worker, the upload of its files.
func (c *Controller) details(j *api.Job) {
	c.poolDetails(j)
	c.uploads.details(j)
}

func (c *Controller) get(ctx context.Context, id int64) (store.Record, error) {
	rec, err := c.store.Get(ctx, id)
	if store.IsNotFound(err) {
		return rec, NotFound("no managed job with id %d", id)
	}
	if err != nil {
		return rec, fmt.Errorf("jobs: %w", err)
	}
	return rec, nil
}

func toAPI(j *store.Job, tasks []store.Task, now time.Time) api.Job {
	out := api.Job{
		ID: j.ID, Name: j.Name, User: j.User, Status: j.Status, Pool: j.Pool,
		Pipeline: !j.DAG.IsGroup() && (j.Pipeline || len(tasks) > 1), JobGroup: j.DAG.IsGroup(), Priority: j.Priority, SubmittedAt: j.SubmittedAt,
		StartedAt: timePtr(j.StartedAt), EndedAt: timePtr(j.EndedAt), FailureReason: j.FailureReason,
		TotalDuration: since(j.SubmittedAt, j.EndedAt, now), Tasks: make([]api.Task, len(tasks)),
	}
	for i := range tasks {
		t := &tasks[i]
		at := api.Task{
			Index: t.Index, Name: t.Name, Status: t.Status, Requested: t.Requested,
			SubmittedAt: timePtr(t.SubmittedAt), StartedAt: timePtr(t.StartedAt), EndedAt: timePtr(t.EndedAt),
			TotalDuration: since(t.SubmittedAt, t.EndedAt, now),
			JobDuration:   api.Duration(t.Duration(now)), Recoveries: t.Recoveries, Restarts: t.Restarts, Attempt: t.Attempt,
			ExitCode: t.ExitCode, FailureReason: t.FailureReason, JobRank: j.JobRank, NumJobs: j.NumJobs,
		}
		if ch := t.Choice; ch != nil {
			at.Infra, at.Instance, at.Spot = store.InfraOf(*ch), ch.Offering.InstanceType, ch.Spot
		}
		if spent, od := t.Cost(now); spent > 0 || od > 0 {
			at.Cost = costOf(spent, od)
			sum := *at.Cost
			if out.Cost != nil {
				sum = out.Cost.Add(sum)
			}
			out.Cost = &sum
		}
		out.Tasks[i] = at
		if i > 0 && j.DAG.IsGroup() {
			continue // a job group's tasks share one attempt: count it once
		}
		out.JobDuration += at.JobDuration
		out.Recoveries += t.Recoveries
	}
	return out
}

// costOf is a cost from what was spent and what on-demand would have cost.
func costOf(spent, onDemand float64) *api.Cost {
	return &api.Cost{Spent: spent, OnDemand: onDemand, Savings: onDemand - spent}
}

// since is the time from start to end (to now before the end); 0 before
// the start.
func since(start, end, now time.Time) api.Duration {
	if start.IsZero() {
		return 0
	}
	if end.IsZero() {
		end = now
	}
	return api.Duration(max(end.Sub(start), 0))
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Cancel cancels the selected unfinished jobs: exactly one of JobIDs, Name,
// All or Pool (User narrows Name, All and Pool; User alone means all of
// that user's jobs). PENDING jobs become CANCELLED at once; others
// CANCELLING, then CANCELLED once their attempt is stopped. It returns the
// ids it cancelled.
func (c *Controller) Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error) {
	n := 0
	for _, set := range []bool{len(req.JobIDs) > 0, req.Name != "", req.All, req.Pool != ""} {
		if set {
			n++
		}
	}
	if n > 1 || n == 0 && req.User == "" {
		return nil, Invalid("%v", errNoSelector)
	}
	f := store.Filter{IDs: req.JobIDs, Name: req.Name, Pool: req.Pool, User: req.User, Kind: &managedJobs}
	if len(req.JobIDs) > 0 {
		f.User = ""
	}
	jobs, _, err := c.store.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("jobs: cancel: %w", err)
	}
	if len(req.JobIDs) > 0 && len(jobs) < len(dedupe(req.JobIDs)) {
		found := map[int64]bool{}
		for _, j := range jobs {
			found[j.ID] = true
		}
		for _, id := range req.JobIDs {
			if !found[id] {
				return nil, NotFound("no managed job with id %d", id)
			}
		}
	}
	var ids []int64
	for i := len(jobs) - 1; i >= 0; i-- { // oldest first
		if !jobs[i].Status.Terminal() {
			ids = append(ids, jobs[i].ID)
		}
	}
	if len(ids) == 0 {
		return []int64{}, nil
	}
	cancelled := []int64{}
	err = c.call(ctx, func() error {
		for _, id := range ids {
			js, ok := c.jobs[id]
			if !ok {
				continue
			}
			c.guard(js, func() error {
				did, err := c.cancelJob(js, "cancel requested")
				if did {
					cancelled = append(cancelled, id)
				}
				return err
			})
		}
		return nil
	})
	return cancelled, err
}

func dedupe(ids []int64) map[int64]bool {
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Preempt injects a preemption into a task's running attempt (fault
// injection), if the engine can.
func (c *Controller) Preempt(ctx context.Context, id int64, req api.PreemptRequest) error {
	rec, err := c.get(ctx, id)
	if err != nil {
		return err
	}
	if req.Task < 0 || req.Task >= len(rec.Tasks) {
		return NotFound("managed job %d has no task %d", id, req.Task)
	}
	p, ok := c.eng.(engine.Preempter)
	if !ok {
		return Unsupported("engine %s cannot inject preemptions", c.eng.Name())
	}
	var cur *store.Attempt
	for i := range rec.Attempts {
		if a := &rec.Attempts[i]; a.Task == req.Task && (cur == nil || a.Number > cur.Number) {
			cur = a
		}
	}
	if cur == nil || !cur.Live() || cur.PlacedAt.IsZero() {
		return Conflict("managed job %d task %d has no running attempt (status %s)", id, req.Task, rec.Tasks[req.Task].Status)
	}
	notice := time.Duration(req.NoticeSeconds * float64(time.Second))
	if err := p.Preempt(ctx, refOf(cur), notice); err != nil {
		return fmt.Errorf("jobs: preempt job %d task %d: %w", id, req.Task, err)
	}
	return nil
}

// Demand counts the nodes each offering's node class needs now: every live
// attempt (launching, waiting for its nodes, or running), times the task's
// num_nodes (a job group's attempt: each task's, on its own offering). Pool jobs and pool workers add none: a pool's nodes are kept
// by its fixed-value policy.
func (c *Controller) Demand(ctx context.Context) (api.Demand, error) {
	d := api.Demand{Nodes: map[string]int{}}
	err := c.call(ctx, func() error {
		c.liveChoices(func(ch catalog.Choice, nodes int) { d.Nodes[ch.NodeClass()] += nodes })
		return nil
	})
	return d, err
}

// liveChoices calls f with the choice and node count of every live
// attempt that asks for nodes of its own (Demand's). On the loop.
func (c *Controller) liveChoices(f func(ch catalog.Choice, nodes int)) {
	for _, js := range c.jobs {
		if js.job.Pool != "" {
			continue
		}
		for _, t := range js.tasks {
			if t.att == nil || !t.att.Live() {
				continue
			}
			if members := t.att.Choice.Members; len(members) > 0 {
				// A job group's attempt places every task's nodes.
				for i, m := range members {
					f(m, max(js.dagTask(i).NumNodes, 1))
				}
				continue
			}
			f(t.att.Choice, max(js.dagTask(t.idx).NumNodes, 1))
		}
	}
}
