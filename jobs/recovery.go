package jobs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// planMode says how the next plan of a task is constrained.
type planMode int

const (
	// planOpen: anywhere the task fits.
	planOpen planMode = iota
	// planBlocked: EAGER_NEXT_REGION after a preemption; the task's Blocked
	// locations are skipped. Falls back to planOpen when nothing else fits.
	planBlocked
	// planPrefer: FAILOVER after a preemption; the previous location is
	// ranked first and retried FailoverTries times before moving on.
	planPrefer
)

// planState walks one ranked plan of a task: each launch takes the choice
// at next; no capacity moves next on. When the plan is exhausted the task
// re-plans unconstrained, and when that is exhausted it backs off.
type planState struct {
	mode      planMode
	prefer    *task.Infra
	planned   bool
	choices   []catalog.Choice
	next      int
	sameTries int // FAILOVER: launches in the preferred location that failed
}

// nextChoice returns the placement for the task's next attempt. ok=false
// means every choice lacked capacity (back off); an error means nothing can
// run the task at all.
func (c *Controller) nextChoice(js *jobState, t *taskState) (choice catalog.Choice, ok bool, err error) {
	if w := js.worker; w != nil {
		return w.cur().att.Choice, true, nil // a pool job runs where its worker is
	}
	p := &t.plan
	for {
		if !p.planned {
			cons := catalog.Constraints{Clouds: c.cfg.Clouds}
			switch p.mode {
			case planBlocked:
				cons.Blocked = t.rec.Blocked
			case planPrefer:
				cons.Prefer = p.prefer
			}
			choices, err := c.plan(js, t, cons)
			if err == nil && len(choices) == 0 {
				err = errors.New("no offering fits the task")
			}
			if err != nil {
				if p.mode != planOpen {
					c.jlogf(js.job.ID, "nothing fits outside %s; planning everywhere", blockedText(t.rec.Blocked, p.prefer))
					c.openPlan(t)
					continue
				}
				return catalog.Choice{}, false, fmt.Errorf("task %d (%s): %w", t.idx, t.rec.Name, err)
			}
			p.choices, p.planned, p.next = choices, true, 0
		}
		if p.next < len(p.choices) {
			return p.choices[p.next], true, nil
		}
		if p.mode != planOpen {
			c.openPlan(t)
			continue
		}
		return catalog.Choice{}, false, nil
	}
}

// plan ranks the placements of the task, or of every task of a job group
// in one location.
func (c *Controller) plan(js *jobState, t *taskState, cons catalog.Constraints) ([]catalog.Choice, error) {
	if !js.group() {
		return c.cfg.Planner.Plan(js.dagTask(t.idx), cons)
	}
	return catalog.PlanGroup(js.job.DAG.Tasks, func(tk task.Task) ([]catalog.Choice, error) {
		return c.cfg.Planner.Plan(tk, cons)
	})
}

// openPlan drops any recovery constraint: the next plan goes anywhere.
func (c *Controller) openPlan(t *taskState) {
	t.plan = planState{}
	t.rec.Blocked = nil
}

// noCapacity moves the plan past a choice that could not be placed.
func (c *Controller) noCapacity(t *taskState, failed catalog.Choice) {
	p := &t.plan
	if p.mode == planPrefer && p.prefer != nil && sameLocation(failed, *p.prefer) {
		p.sameTries++
		if p.sameTries < c.cfg.FailoverTries {
			return // FAILOVER: try the same location again
		}
	}
	p.next++
}

// planAfterPreemption sets up the task's next plan by its recovery
// strategy, given where the preempted attempt ran.
func (c *Controller) planAfterPreemption(js *jobState, t *taskState, prev catalog.Choice) {
	loc := task.Infra{Cloud: prev.Offering.Cloud, Region: prev.Offering.Region}
	c.openPlan(t)
	switch strings.ToUpper(recoveryOf(js, t).Strategy) {
	case task.StrategyFailover:
		t.plan = planState{mode: planPrefer, prefer: &loc}
	default: // EAGER_NEXT_REGION
		tk := js.dagTask(t.idx)
		pinned := tk.Resources.Infra
		if prev.Candidate >= 0 && prev.Candidate < len(tk.Candidates) {
			pinned = tk.Candidates[prev.Candidate].Infra
		}
		if pinned.Region != "" && pinned.Region != "*" || pinned.Zone != "" && pinned.Zone != "*" {
			return // the user chose the region: stay
		}
		t.plan = planState{mode: planBlocked}
		t.rec.Blocked = []task.Infra{loc}
	}
}

// recoveryOf is the job_recovery of the task (every candidate carries the
// same one).
func recoveryOf(js *jobState, t *taskState) task.JobRecovery {
	tk := js.dagTask(t.idx)
	jr := tk.Resources.JobRecovery
	if t.rec.Choice != nil && t.rec.Choice.Candidate >= 0 && t.rec.Choice.Candidate < len(tk.Candidates) {
		if cj := tk.Candidates[t.rec.Choice.Candidate].JobRecovery; cj.Strategy != "" ||
			cj.MaxRestartsOnErrors != 0 || len(cj.RecoverOnExitCodes) > 0 {
			jr = cj
		}
	}
	return jr
}

func sameLocation(ch catalog.Choice, loc task.Infra) bool {
	return strings.EqualFold(ch.Offering.Cloud, loc.Cloud) && ch.Offering.Region == loc.Region
}

func blockedText(blocked []task.Infra, prefer *task.Infra) string {
	var parts []string
	for _, b := range blocked {
		parts = append(parts, b.Cloud+"/"+b.Region)
	}
	if prefer != nil {
		parts = append(parts, prefer.Cloud+"/"+prefer.Region)
	}
	return strings.Join(parts, ", ")
}
