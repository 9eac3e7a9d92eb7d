package jobs

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// JobDetail returns a job with every attempt of its tasks, the timeline of
// its status changes and where it shows in the engine's UI: the job page.
func (c *Controller) JobDetail(ctx context.Context, id int64) (api.JobDetail, error) {
	rec, err := c.get(ctx, id)
	if err != nil {
		return api.JobDetail{}, err
	}
	now := c.now()
	d := api.JobDetail{Job: toAPI(&rec.Job, rec.Tasks, now), Attempts: []api.Attempt{}}
	c.details(&d.Job)
	linker, _ := c.eng.(engine.Linker)
	for _, a := range rec.Attempts {
		out := attemptOf(a, rec.Job.EndedAt, now)
		if linker != nil && a.WorkerJob == 0 {
			out.Links = linksOf(linker.Links(refOf(&a)))
		}
		d.Attempts = append(d.Attempts, out)
	}
	if linker != nil && len(rec.Tasks) > 0 && !rec.Job.IsWorker() {
		for _, t := range rec.Tasks {
			if t.Attempt > 0 && (t.Index == 0 || !rec.Job.DAG.IsGroup()) {
				d.Links = append(d.Links, linksOf(linker.Links(engine.Ref{JobID: id, Task: t.Index, Attempt: t.Attempt}))...)
			}
		}
	}
	d.Timeline = timeline(rec)
	return d, nil
}

func linksOf(ls []engine.Link) []api.Link {
	out := make([]api.Link, len(ls))
	for i, l := range ls {
		out[i] = api.Link{Title: l.Title, URL: l.URL}
	}
	return out
}

// attemptOf is an attempt as the job page shows it. Its cost runs from its
// placement to its end (to the job's end, or now, while it is live).
func attemptOf(a store.Attempt, jobEnded, now time.Time) api.Attempt {
	ch := a.Choice
	out := api.Attempt{
		Task: a.Task, Number: a.Number, Infra: store.InfraOf(ch), Instance: ch.Offering.InstanceType,
		Zones: ch.Offering.Zones, Spot: ch.Spot, Node: a.Node, CreatedAt: a.CreatedAt,
		PlacedAt: timePtr(a.PlacedAt), RunAt: timePtr(a.RunAt), EndedAt: timePtr(a.EndedAt),
		Outcome: a.Outcome, ExitCode: a.ExitCode, Worker: a.WorkerJob,
	}
	if a.PlacedAt.IsZero() || a.WorkerJob != 0 || (ch.HourlyCost == 0 && ch.OnDemandHourlyCost() == 0) {
		return out
	}
	end := a.EndedAt
	if end.IsZero() {
		end = jobEnded
	}
	if end.IsZero() {
		end = now
	}
	h := max(end.Sub(a.PlacedAt), 0).Hours()
	out.Cost = costOf(h*ch.HourlyCost, h*ch.OnDemandHourlyCost())
	return out
}

// timeline derives a job's status changes from its rows: submitted,
// each attempt launched, running and ended, each task's end.
func timeline(rec store.Record) []api.Change {
	j := &rec.Job
	var out []api.Change
	add := func(at time.Time, task int, status api.Status, attempt int, note string) {
		if !at.IsZero() {
			out = append(out, api.Change{At: at, Task: task, Status: status, Attempt: attempt, Note: note})
		}
	}
	add(j.SubmittedAt, 0, api.StatusPending, 0, "submitted")
	for _, t := range rec.Tasks {
		if t.Index > 0 && !j.DAG.IsGroup() {
			add(t.SubmittedAt, t.Index, api.StatusPending, 0, fmt.Sprintf("task %d (%s) is next", t.Index, t.Name))
		}
	}
	started := map[int]bool{}
	final := func(a store.Attempt) bool { // the attempt that ended its task
		return a.Task < len(rec.Tasks) && rec.Tasks[a.Task].Status.Terminal() && rec.Tasks[a.Task].Attempt == a.Number
	}
	for _, a := range rec.Attempts {
		status := api.StatusStarting
		if started[a.Task] {
			status = api.StatusRecovering
		}
		add(a.CreatedAt, a.Task, status, a.Number, "launched on "+describeChoice(a.Choice))
		if !a.PlacedAt.IsZero() {
			add(a.PlacedAt, a.Task, status, a.Number, "placed on node "+nodeName(a.Node))
		}
		if !a.RunAt.IsZero() {
			started[a.Task] = true
			add(a.RunAt, a.Task, api.StatusRunning, a.Number, "running")
		}
		switch {
		case final(a) && a.Outcome != store.OutcomeNoCapacity:
			// the task's end follows
		case a.Outcome == "" || a.Outcome == store.OutcomeSucceeded || a.Outcome == store.OutcomeCancelled:
		case a.Outcome == store.OutcomePreempted:
			add(a.EndedAt, a.Task, api.StatusRecovering, a.Number, "preempted on node "+nodeName(a.Node))
		case a.Outcome == store.OutcomeFailed:
			note := "failed"
			if a.ExitCode != nil {
				note = fmt.Sprintf("exited with code %d", *a.ExitCode)
			}
			add(a.EndedAt, a.Task, api.StatusRecovering, a.Number, note)
		case a.Outcome == store.OutcomeNoCapacity:
			add(a.EndedAt, a.Task, status, a.Number, "no capacity on "+describeChoice(a.Choice))
		default:
			add(a.EndedAt, a.Task, status, a.Number, "ended: "+a.Outcome)
		}
	}
	for _, t := range rec.Tasks {
		if t.Status.Terminal() && (t.Index == 0 || !j.DAG.IsGroup()) {
			add(t.EndedAt, t.Index, t.Status, t.Attempt, t.FailureReason)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].At.Before(out[b].At) })
	return out
}

// Capacity is the capacity page: each offering with the nodes its live
// attempts need, the engine's nodes, and the last capacity errors.
func (c *Controller) Capacity(ctx context.Context) (api.Capacity, error) {
	out := api.Capacity{Engine: c.eng.Name(), Offerings: []api.OfferingUse{}}
	byClass := map[string]*api.OfferingUse{}
	err := c.call(ctx, func() error {
		c.liveChoices(func(ch catalog.Choice, nodes int) {
			u := byClass[ch.NodeClass()]
			if u == nil {
				u = &api.OfferingUse{Class: ch.NodeClass(), Infra: store.InfraOf(ch), Instance: ch.Offering.InstanceType, Spot: ch.Spot}
				byClass[u.Class] = u
			}
			u.Demand += nodes
			u.CostPerHour += ch.HourlyCost
		})
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, u := range byClass {
		out.Offerings = append(out.Offerings, *u)
	}
	sort.Slice(out.Offerings, func(a, b int) bool { return out.Offerings[a].Class < out.Offerings[b].Class })
	if nl, ok := c.eng.(engine.NodeLister); ok {
		nodes, err := nl.Nodes(ctx)
		if err != nil {
			return out, fmt.Errorf("jobs: capacity: %s nodes: %w", c.eng.Name(), err)
		}
		for _, n := range nodes {
			out.Nodes = append(out.Nodes, api.Node{Name: n.Name, Class: n.Class, Status: n.Status, Drain: n.Drain, Spot: n.Spot, Link: n.Link})
		}
	}
	out.Errors = c.capErrors.list()
	return out, nil
}

// JobCounts counts the managed jobs (not pool workers) by status.
func (c *Controller) JobCounts(ctx context.Context) (map[api.Status]int, error) {
	return c.store.CountByStatus(ctx, store.KindJob)
}
