package jobs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// MaxNumJobs caps LaunchRequest.NumJobs.
const MaxNumJobs = 10000

// Submit records a managed job (NumJobs copies of it, ranked 0..N-1 in job
// id order) and returns the new ids. Every task is planned first: a task
// nothing can run makes the job FAILED_PRECHECKS at once, with the reason.
func (c *Controller) Submit(ctx context.Context, req api.LaunchRequest) ([]int64, error) {
	dag, err := normalizeDAG(req.DAG)
	if err != nil {
		return nil, err
	}
	n := req.NumJobs
	if n == 0 {
		n = 1
	}
	if n < 0 || n > MaxNumJobs {
		return nil, Invalid("num_jobs must be between 1 and %d, got %d", MaxNumJobs, req.NumJobs)
	}
	if dag.Tasks[0].Pool != nil && req.Pool == "" {
		return nil, Invalid("this is a pool file (it has a pool: block): create the pool with jobs pool apply -p NAME FILE, then submit jobs to it with jobs launch --pool NAME")
	}
	if req.Pool == "" {
		if err := c.checkFiles(ctx, dag); err != nil {
			return nil, err
		}
	}
	status, reason := api.StatusPending, ""
	if req.Pool != "" {
		if err := c.checkPoolJob(ctx, req.Pool, dag); err != nil {
			return nil, err
		}
	} else {
		reason = c.precheck(dag)
	}
	if reason != "" {
		status = api.StatusFailedPrechecks
	}
	now := c.now()
	// A job for a pool runs its run beside a worker, in the worker's
	// workdir, after the worker's setup: its own setup, workdir and
	// file_mounts are not used (the CLI warned).
	if req.Pool != "" {
		tk := &dag.Tasks[0]
		tk.Setup, tk.Pool, tk.Workdir, tk.Mounts = "", nil, nil, nil
	}
	jobs := make([]store.Job, n)
	tasks := make([][]store.Task, n)
	for i := range jobs {
		j := store.Job{
			Name: dag.Name, User: req.User, Status: status, Pool: req.Pool,
			Priority: dag.Tasks[0].Resources.Priority, Pipeline: dag.IsPipeline(),
			DAG: dag, SubmittedAt: now, JobRank: i, NumJobs: n, FailureReason: reason,
		}
		ts := make([]store.Task, len(dag.Tasks))
		for k, tk := range dag.Tasks {
			ts[k] = store.Task{Index: k, Name: tk.Name, Status: status, Requested: c.cfg.Requested(tk)}
			if k == 0 {
				ts[k].SubmittedAt = now
			}
			if status.Terminal() {
				ts[k].EndedAt = now
				ts[k].FailureReason = reason
			}
		}
		if status.Terminal() {
			j.EndedAt = now
		}
		jobs[i], tasks[i] = j, ts
	}
	ids, err := c.store.CreateJobs(ctx, jobs, tasks)
	if err != nil {
		return nil, fmt.Errorf("jobs: submit: %w", err)
	}
	if c.view.isLoaded() {
		for i := range jobs {
			c.view.put(jobs[i], tasks[i])
		}
	}
	for i, id := range ids {
		c.feed.publish(api.JobEvent{ID: id, Status: status, Pool: jobs[i].Pool})
	}
	for i, id := range ids {
		what := fmt.Sprintf("%d task(s)", len(dag.Tasks))
		if n > 1 {
			what += fmt.Sprintf(", job rank %d of %d", i, n)
		}
		c.jlogf(id, "submitted by %s: %s (%s)", userName(req.User), dag.Name, what)
		if reason != "" {
			c.jlogf(id, "job finished: FAILED_PRECHECKS (%s)", reason)
			c.jlog.close(id)
		}
	}
	c.log.Info("jobs submitted", "name", dag.Name, "ids", ids, "status", status)
	if status == api.StatusPending && c.started.Load() {
		c.post(func() {
			recs, err := c.store.LoadJobs(context.WithoutCancel(c.ctx), ids)
			if err != nil {
				c.log.Error("cannot load submitted jobs; they start at the next controller start", "ids", ids, "err", err)
				return
			}
			c.resumeAll(recs)
		})
	}
	return ids, nil
}

// precheck plans every task and asks the engine; it returns why the job can
// never run, or "".
func (c *Controller) precheck(dag task.DAG) string {
	checker, _ := c.eng.(engine.Checker)
	for i, tk := range dag.Tasks {
		if _, err := c.cfg.Planner.Plan(tk, catalog.Constraints{Clouds: c.cfg.Clouds}); err != nil {
			return fmt.Sprintf("task %d (%s): %v", i, tk.Name, err)
		}
		if checker != nil {
			if err := checker.Check(tk); err != nil {
				if engine.IsInfeasible(err) {
					return fmt.Sprintf("task %d (%s): %v", i, tk.Name, err)
				}
				c.log.Warn("engine check failed", "task", tk.Name, "err", err)
			}
		}
	}
	return ""
}

// Plan returns what the optimizer would choose for each task.
func (c *Controller) Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error) {
	dag, err := normalizeDAG(dag)
	if err != nil {
		return api.PlanResponse{}, err
	}
	resp := api.PlanResponse{Engine: c.eng.Name()}
	checker, _ := c.eng.(engine.Checker)
	for _, tk := range dag.Tasks {
		tp := api.TaskPlan{Task: tk.Name}
		choices, err := c.cfg.Planner.Plan(tk, catalog.Constraints{Clouds: c.cfg.Clouds})
		if err == nil && checker != nil {
			if cerr := checker.Check(tk); engine.IsInfeasible(cerr) {
				err = cerr
			}
		}
		if err != nil {
			tp.Error = err.Error()
		} else {
			tp.Choices = choices
		}
		resp.Tasks = append(resp.Tasks, tp)
	}
	if c.cfg.Files != nil {
		for _, p := range c.cfg.Files.Check(ctx, dag) {
			resp.Tasks[p.Task].Files = append(resp.Tasks[p.Task].Files,
				api.FilesProblem{Mount: p.Mount, Msg: p.Msg, Accepted: p.Accepted})
		}
	}
	return resp, nil
}

// checkFiles refuses a job whose files cannot be stored or mounted
// (bucket.Manager.Check); nothing is submitted.
func (c *Controller) checkFiles(ctx context.Context, dag task.DAG) error {
	if c.cfg.Files == nil {
		return nil
	}
	problems := c.cfg.Files.Check(ctx, dag)
	if len(problems) == 0 {
		return nil
	}
	p := problems[0]
	tk := dag.Tasks[p.Task]
	field := "workdir"
	if p.Mount >= 0 {
		field = "file_mounts " + tk.Mounts[p.Mount].Dest
	}
	return Invalid("task %d (%s): %s: %s; accepted: %s", p.Task, tk.Name, field, p.Msg, p.Accepted)
}

// normalizeDAG checks what the controller relies on and fills names and
// candidates the translator would have filled.
func normalizeDAG(dag task.DAG) (task.DAG, error) {
	if len(dag.Tasks) == 0 {
		return dag, Invalid("the job has no task")
	}
	out := dag
	out.Tasks = make([]task.Task, len(dag.Tasks))
	for i, tk := range dag.Tasks {
		if tk.Name == "" {
			if dag.Name != "" && len(dag.Tasks) > 1 {
				tk.Name = fmt.Sprintf("%s-%d", dag.Name, i)
			} else if dag.Name != "" {
				tk.Name = dag.Name
			} else {
				tk.Name = fmt.Sprintf("task-%d", i)
			}
		}
		if tk.NumNodes <= 0 {
			tk.NumNodes = 1
		}
		if err := checkLocalPaths(i, tk); err != nil {
			return dag, err
		}
		if len(tk.Candidates) == 0 {
			tk.Candidates = []task.Resources{tk.Resources}
		}
		out.Tasks[i] = tk
	}
	if out.Name == "" {
		out.Name = out.Tasks[0].Name
	}
	return out, nil
}

// checkLocalPaths refuses a task whose local paths are relative: they are
// the submitting user's and only the client can resolve them.
func checkLocalPaths(i int, tk task.Task) error {
	const why = "local paths must be absolute: the client resolves them where the user runs it (skynomad jobs launch does)"
	if w := tk.Workdir; w != nil && w.Path != "" && !filepath.IsAbs(w.Path) {
		return Invalid("task %d (%s): workdir %q: %s", i, tk.Name, w.Path, why)
	}
	for _, m := range tk.Mounts {
		if m.LocalSource() && !filepath.IsAbs(m.Source) {
			return Invalid("task %d (%s): file_mounts %s: source %q: %s", i, tk.Name, m.Dest, m.Source, why)
		}
	}
	return nil
}

func userName(u string) string {
	if u == "" {
		return "(unknown user)"
	}
	return u
}

// errNoSelector is returned by Cancel without exactly one selector.
var errNoSelector = errors.New("give exactly one of job ids, a name, --all or a pool")
