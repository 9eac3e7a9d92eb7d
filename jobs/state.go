package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// jobState is the loop's view of one unfinished job.
type jobState struct {
	job   store.Job
	tasks []*taskState

	queueIndex int  // position in the ready queue, -1 when not queued
	launchSlot bool // holds one of MaxLaunching
	runSlot    bool // counts against MaxRunning
	backingOff bool // waiting for the retry timer after an exhausted plan
	// worker is the pool worker a pool job holds (pools.go).
	worker *jobState
	// files is the job's upload to the job-files bucket (files.go).
	files    filesState
	timer    *time.Timer
	timerGen int
}

func (js *jobState) cur() *taskState { return js.tasks[js.job.CurrentTask] }

// setTimer arms the job's one retry timer (replacing any other); f runs on
// the loop unless the timer was replaced or the job finished.
func (c *Controller) setTimer(js *jobState, d time.Duration, f func()) {
	if js.timer != nil {
		js.timer.Stop()
	}
	js.timerGen++
	gen := js.timerGen
	js.timer = c.after(d, func() {
		if c.jobs[js.job.ID] != js || js.timerGen != gen {
			return
		}
		js.timer = nil
		c.guard(js, func() error { f(); return c.advance(js) })
	})
}

func (js *jobState) stopTimers() {
	if js.timer != nil {
		js.timer.Stop()
		js.timer = nil
	}
	js.timerGen++
	for _, t := range js.tasks {
		t.stopNoCapacity()
	}
}

// taskState is the loop's view of one task of an unfinished job.
type taskState struct {
	idx int
	rec store.Task
	// att is the latest attempt (nil before the first launch).
	att *store.Attempt

	launching  bool // engine Launch or Resume in flight
	stopping   bool // engine Stop in flight
	wantLaunch bool // needs a new attempt
	cleanup    bool // att must be stopped before the next launch

	stopFailures int
	callFailures int
	plan         planState
	noCap        *time.Timer
	noCapGen     int
	// lastNoCap is why the last attempt found no capacity, and where.
	lastNoCap string
	// obs is what the Observer was told of the task (observe.go).
	obs  observed
	seen map[engine.EventKind]bool // per-attempt, for log lines
}

func (t *taskState) stopNoCapacity() {
	if t.noCap != nil {
		t.noCap.Stop()
		t.noCap = nil
	}
	t.noCapGen++
}

// closeInterval ends the open running interval, if any.
func (t *taskState) closeInterval(at time.Time) {
	if t.rec.RunningSince.IsZero() {
		return
	}
	if d := at.Sub(t.rec.RunningSince); d > 0 {
		t.rec.RunTime += d
	}
	t.rec.RunningSince = time.Time{}
}

// endAttempt marks the latest attempt ended.
func (t *taskState) endAttempt(outcome string, at time.Time, code *int) {
	a := t.att
	a.State, a.Outcome, a.EndedAt = store.AttemptEnded, outcome, at
	if code != nil {
		a.ExitCode = code
	}
	t.closeInterval(at)
	t.stopBilling(at)
	t.stopNoCapacity()
}

// startBilling starts the cost of the latest attempt, placed at: its
// nodes cost its choice's hourly price from then. A pool job's attempt
// costs nothing of its own: its worker pays.
func (t *taskState) startBilling(at time.Time) {
	a := t.att
	if a.WorkerJob != 0 || !t.rec.BilledSince.IsZero() {
		return
	}
	t.rec.BilledSince = at
	t.rec.Rate, t.rec.OnDemandRate = a.Choice.HourlyCost, a.Choice.OnDemandHourlyCost()
}

// stopBilling adds the live attempt's cost until at to the task's.
func (t *taskState) stopBilling(at time.Time) {
	r := &t.rec
	if r.BilledSince.IsZero() {
		return
	}
	r.Spent, r.OnDemand = r.Cost(at)
	r.BilledSince, r.Rate, r.OnDemandRate = time.Time{}, 0, 0
}

// setStatus moves a task through the transition table; the job follows its
// current task.
func (c *Controller) setStatus(js *jobState, t *taskState, to api.Status) error {
	if t.rec.Status == to {
		return nil
	}
	if err := CheckTransition(t.rec.Status, to); err != nil {
		return fmt.Errorf("job %d task %d: %w", js.job.ID, t.idx, err)
	}
	t.rec.Status = to
	if t.idx == js.job.CurrentTask {
		js.job.Status = to
	}
	return nil
}

// group reports whether the job is a job group: all its tasks run in one
// attempt of task 0, which carries the group's status (save mirrors it
// onto the others: mirrorGroup).
func (js *jobState) group() bool { return js.job.DAG.IsGroup() }

// restore builds the loop state of a job from its stored record.
func restore(rec store.Record) *jobState {
	js := &jobState{job: rec.Job, queueIndex: -1}
	for i := range rec.Tasks {
		js.tasks = append(js.tasks, &taskState{idx: i, rec: rec.Tasks[i]})
	}
	for i := range rec.Attempts {
		a := rec.Attempts[i]
		if a.Task < len(js.tasks) {
			t := js.tasks[a.Task]
			if t.att == nil || a.Number > t.att.Number {
				t.att = &a
			}
		}
	}
	for _, t := range js.tasks {
		t.obs = observedFrom(t)
	}
	return js
}

func refOf(a *store.Attempt) engine.Ref {
	return engine.Ref{JobID: a.JobID, Task: a.Task, Attempt: a.Number}
}

// dagTask returns the task's spec from the job's DAG.
func (js *jobState) dagTask(idx int) task.Task { return js.job.DAG.Tasks[idx] }

// engineAttempt builds what the engine needs for the task's latest attempt.
func (c *Controller) engineAttempt(js *jobState, t *taskState) *engine.Attempt {
	a := engine.NewAttempt(js.job.DAG, jobInfo(&js.job), refOf(t.att), t.att.Choice)
	if t.att.WorkerJob != 0 {
		a.Worker = &engine.Ref{JobID: t.att.WorkerJob, Attempt: t.att.WorkerAttempt}
	}
	if c.cfg.Files != nil && !isPoolJob(js) {
		a.FilesEnv = c.cfg.FilesEnv
		_ = a.SetFiles(func(i int) (node.Files, error) {
			f, err := c.cfg.Files.NodeFiles(js.files.ready, js.job.DAG, i)
			if err != nil {
				// Submit checked the mounts: only a changed configuration
				// gets here. The attempt runs without them and says why.
				c.jlogf(js.job.ID, "file mounts of task %d left out: %v", i, err)
			}
			return f, nil
		})
	}
	return a
}

// jobInfo is what SKYPILOT_* variables say about j.
func jobInfo(j *store.Job) task.JobInfo {
	return task.JobInfo{ID: j.ID, Name: j.Name, Submitted: j.SubmittedAt, Rank: j.JobRank, NumJobs: j.NumJobs, Pool: j.Pool}
}

// describeChoice reads like "AWS (us-east-1) m6i.2xlarge [spot]".
func describeChoice(ch catalog.Choice) string {
	loc := cloudName(ch.Offering.Cloud)
	if ch.Offering.Region != "" {
		loc += " (" + ch.Offering.Region + ")"
	}
	s := loc + " " + ch.Offering.InstanceType
	if ch.Spot {
		s += " [spot]"
	}
	return s
}

func cloudName(c string) string {
	switch strings.ToLower(c) {
	case "aws":
		return "AWS"
	case "gcp":
		return "GCP"
	case "azure":
		return "Azure"
	case "local":
		return "Local"
	case "kubernetes", "k8s":
		return "Kubernetes"
	}
	return c
}
