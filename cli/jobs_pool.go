package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
	"github.com/skynomad/skynomad/ui"
)

// newPoolCommand is the `skynomad jobs pool` group.
func newPoolCommand(io IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Create, inspect and take down worker pools",
		Long: `A worker pool is a fixed set of workers that run a pool file's setup
once and are then reused by the jobs submitted to the pool
(jobs launch --pool NAME), one job per worker at a time. A pool file is a
task YAML with a pool: {workers: N} block; its run is ignored.

On the local engine each worker is a sandbox on this host; on Nomad each
worker is a node of class sky-pool-<name>, kept at N by the Nomad
Autoscaler (skynomad autoscaler policies writes the pool's policy).`,
	}
	cmd.AddCommand(newPoolApplyCommand(io), newPoolStatusCommand(io), newPoolDownCommand(io), newPoolLogsCommand(io))
	return cmd
}

// poolApplyOptions is `skynomad jobs pool apply -p NAME POOL_YAML`.
type poolApplyOptions struct {
	taskFileOptions
	name string
	yes  bool
}

func newPoolApplyCommand(io IO) *cobra.Command {
	o := &poolApplyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -p NAME POOL_YAML",
		Short: "Create a pool, or update it",
		Long: `Create the pool NAME from a pool file, or update it.

Updating with a changed setup, envs or resources rolls the workers one at
a time: an idle worker is replaced once every new worker is ready, and a
busy worker only after its job ends, so running jobs keep running. A
changed worker count adds or removes (idle) workers.

The pool starts in the background; jobs submitted meanwhile wait PENDING
until a worker is ready.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(io, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.taskFlags.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.name, "pool", "p", "", "the pool's name (required)")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (o *poolApplyOptions) Complete(io IO, cmd *cobra.Command, args []string) error {
	return o.complete(io, cmd, args[0])
}

func (o *poolApplyOptions) Validate() error {
	if o.name == "" {
		return errors.New("name the pool with -p NAME")
	}
	return o.taskFlags.validate()
}

func (o *poolApplyOptions) Run(ctx context.Context) error {
	dag, err := translator.LoadFile(o.file, o.load)
	if err != nil {
		return err
	}
	if len(dag.Tasks) != 1 || dag.Tasks[0].Pool == nil {
		return &translator.Error{File: o.file, Line: 1, Col: 1, Field: "pool",
			Msg: "not a pool file: it has no pool: block", Accepted: "pool: {workers: N} beside the task's setup and resources"}
	}
	o.ui.Output("YAML to run: %s", o.file)
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	plan, err := c.Plan(ctx, *dag)
	if err != nil {
		return fmt.Errorf("planning the pool's workers: %w", err)
	}
	if err := filesError(o.file, o.load, &plan); err != nil {
		return err
	}
	ps := dag.Tasks[0].Pool
	o.ui.Output("Pool spec:")
	if ps.Workers > 0 {
		o.ui.Output("Worker policy:  Fixed-size (%d workers)", ps.Workers)
	} else {
		o.ui.Output("Worker policy:  min_workers %d, max_workers %d", ps.MinWorkers, ps.MaxWorkers)
	}
	o.ui.Output("")
	o.ui.Output("Each pool worker will use the following resources (estimated):")
	showResources(o.ui, dag.Tasks[0], &plan.Tasks[0])
	if err := planError(o.file, o.load, &plan); err != nil {
		return withExitCode(ExitFailedPrechecks, err)
	}
	if err := confirm(o.ui, o.yes, fmt.Sprintf("Applying config to pool '%s'. Proceed?", o.name)); err != nil {
		return err
	}
	if err := stageFiles(ctx, o.ui, c, dag); err != nil {
		return err
	}
	res, err := c.ApplyPool(ctx, api.PoolApplyRequest{Name: o.name, DAG: *dag, User: o.user()})
	if err != nil {
		return fmt.Errorf("applying pool %s: %w", o.name, err)
	}
	for _, w := range res.Warnings {
		o.ui.Warn("%s", w)
	}
	p := res.Pool
	switch {
	case res.Created:
		o.ui.Success("Pool '%s' created: %d worker(s) starting in the background.", p.Name, p.Workers)
	case res.Rolling:
		o.ui.Success("Pool '%s' updated to version %d: rolling %d worker(s) one at a time; running jobs keep running.", p.Name, p.Version, p.Workers)
	case res.Scaled:
		o.ui.Success("Pool '%s' scaled to %d worker(s).", p.Name, p.Workers)
	default:
		o.ui.Success("Pool '%s' is unchanged (version %d, %d worker(s)).", p.Name, p.Version, p.Workers)
	}
	if plan.Engine == "nomad" {
		o.ui.Info("On Nomad the workers are the nodes of class sky-pool-%s; skynomad autoscaler policies --out DIR writes the policy that keeps %d of them.", p.Name, p.Workers)
	}
	o.ui.Output("")
	o.ui.Output("Pool name: %s", p.Name)
	usefulCommands(o.ui, [][2]string{
		{"To submit jobs to the pool:", "skynomad jobs launch --pool " + p.Name + " <yaml_file>"},
		{"To submit multiple jobs:", "skynomad jobs launch --pool " + p.Name + " --num-jobs 10 <yaml_file>"},
		{"To check the pool status:", "skynomad jobs pool status " + p.Name},
		{"To terminate the pool:", "skynomad jobs pool down " + p.Name},
	})
	return nil
}

// poolStatusOptions is `skynomad jobs pool status [NAMES...]`.
type poolStatusOptions struct {
	*session
	names  []string
	output string
}

func newPoolStatusCommand(io IO) *cobra.Command {
	o := &poolStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status [NAMES...]",
		Short: "Show pools and their workers",
		Long: `Show the named pools (every pool without names): their status, workers
ready and busy, jobs waiting and running, and cost per hour; then each
worker with its status, the job it runs, where it runs and its cost.

A pool is PROVISIONING until every worker finished setup, READY, UPDATING
while workers of an older version are rolled, FAILED when a worker's setup
failed on every try (the reason names the exit code), SHUTTING_DOWN after
pool down.

-o json prints the controller's answer.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(io)
			if err != nil {
				return err
			}
			o.session, o.names = s, args
			if o.output != "table" && o.output != "json" {
				return fmt.Errorf("--output %q: want table or json", o.output)
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func (o *poolStatusOptions) Run(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	pools, err := c.Pools(ctx, o.names)
	if err != nil {
		return fmt.Errorf("reading pools: %w", err)
	}
	if o.output == "json" {
		enc := json.NewEncoder(o.ui.Stdout())
		enc.SetIndent("", "  ")
		return enc.Encode(api.PoolsResponse{Pools: pools})
	}
	if len(pools) == 0 {
		o.ui.Output("No pools.")
		return nil
	}
	o.ui.Output("Pools")
	o.ui.Table(poolsTable(pools))
	for _, p := range pools {
		o.ui.Output("")
		o.ui.Output("Pool '%s' workers", p.Name)
		if p.FailureReason != "" {
			o.ui.Failure("%s", p.FailureReason)
		}
		if len(p.Worker) == 0 {
			o.ui.Output("No workers.")
			continue
		}
		o.ui.Table(workersTable(p))
	}
	return nil
}

func poolsTable(pools []api.Pool) ui.Table {
	t := ui.Table{Headers: []string{"NAME", "VERSION", "STATUS", "WORKERS", "BUSY", "PENDING JOBS", "RUNNING JOBS", "REQUESTED", "COST/HR"}}
	for _, p := range pools {
		t.Rows = append(t.Rows, []string{
			p.Name, strconv.Itoa(p.Version), p.Status, fmt.Sprintf("%d/%d ready", p.Ready, p.Workers), strconv.Itoa(p.Busy),
			strconv.Itoa(p.PendingJobs), strconv.Itoa(p.RunningJobs), orDash(p.Requested), cost(p.CostPerHour),
		})
	}
	return t
}

func workersTable(p api.Pool) ui.Table {
	t := ui.Table{Headers: []string{"WORKER", "VERSION", "STATUS", "JOB", "INFRA", "INSTANCE", "NODE", "REPLACED", "COST/HR"}}
	for _, w := range p.Worker {
		job := "-"
		if w.Job != 0 {
			job = strconv.FormatInt(w.Job, 10)
		}
		status := w.Status
		if w.SetupExitCode != nil {
			status += fmt.Sprintf(" (setup exit %d)", *w.SetupExitCode)
		}
		instance := orDash(w.Instance)
		if w.Spot && w.Instance != "" {
			instance += "[Spot]"
		}
		t.Rows = append(t.Rows, []string{
			strconv.FormatInt(w.ID, 10), strconv.Itoa(w.Version), status, job, orDash(w.Infra), instance,
			orDash(w.Node), strconv.Itoa(w.Replaced), cost(w.CostPerHour),
		})
	}
	return t
}

func cost(perHour float64) string {
	if perHour == 0 {
		return "-"
	}
	return fmt.Sprintf("$%.2f", perHour)
}

// poolDownOptions is `skynomad jobs pool down NAMES... | -a`.
type poolDownOptions struct {
	*session
	names []string
	all   bool
	yes   bool
}

func newPoolDownCommand(io IO) *cobra.Command {
	o := &poolDownOptions{}
	cmd := &cobra.Command{
		Use:   "down NAMES... | -a",
		Short: "Take pools down",
		Long: `Take the named pools down (every pool with -a): their unfinished jobs
are cancelled (asks first, naming how many, unless -y), then every worker
stops. On Nomad the pool's nodes go once its autoscaler policy is removed
or set to 0. Waits until the controller has stopped every worker.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(io)
			if err != nil {
				return err
			}
			o.session, o.names = s, args
			if o.all == (len(o.names) > 0) {
				return errors.New("name the pools to take down, or -a for all of them")
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "take every pool down")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (o *poolDownOptions) Run(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	pools, err := c.Pools(ctx, o.names)
	if err != nil {
		return fmt.Errorf("reading pools: %w", err)
	}
	if len(pools) == 0 {
		o.ui.Output("No pools to take down.")
		return nil
	}
	var names []string
	for _, p := range pools {
		names = append(names, p.Name)
		if n := p.PendingJobs + p.RunningJobs; n > 0 {
			o.ui.Warn("pool '%s' has %d unfinished job(s) (%d running, %d pending): they will be cancelled", p.Name, n, p.RunningJobs, p.PendingJobs)
		}
	}
	list := strings.Join(names, "', '")
	if err := confirm(o.ui, o.yes, fmt.Sprintf("Terminating pool(s) '%s'. Proceed?", list)); err != nil {
		return err
	}
	res, err := c.DownPool(ctx, api.PoolDownRequest{Names: names})
	if err != nil {
		return fmt.Errorf("taking pools down: %w", err)
	}
	if len(res.Cancelled) > 0 {
		o.ui.Output("Cancelled %d job(s) of the pool(s).", len(res.Cancelled))
	}
	step := o.ui.Step(fmt.Sprintf("Stopping the workers of pool(s) '%s'", list))
	for {
		left, err := c.Pools(ctx, nil)
		if err != nil {
			step.Fail("")
			return err
		}
		pools, remaining := 0, 0
		for _, p := range left {
			if slices.Contains(names, p.Name) {
				pools++
				remaining += len(p.Worker)
			}
		}
		if pools == 0 {
			step.Done(fmt.Sprintf("Pool(s) '%s' terminated.", list))
			return nil
		}
		step.Update(fmt.Sprintf("Stopping the workers of pool(s) '%s' (%d left)", list, remaining))
		select {
		case <-ctx.Done():
			step.Fail("")
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// poolLogsOptions is `skynomad jobs pool logs NAME [WORKER]`.
type poolLogsOptions struct {
	*session
	name   string
	worker int64
	follow bool
}

func newPoolLogsCommand(io IO) *cobra.Command {
	o := &poolLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs NAME [WORKER]",
		Short: "Show the setup output of a pool's workers",
		Long: `Show the setup output of the pool's worker WORKER (an id from
jobs pool status), or of every worker one after another. --follow keeps
streaming one worker's output (name it when the pool has several).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(io)
			if err != nil {
				return err
			}
			o.session, o.name = s, args[0]
			if len(args) == 2 {
				ids, err := parseIDs(args[1:])
				if err != nil {
					return fmt.Errorf("worker: %w", err)
				}
				o.worker = ids[0]
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep streaming the output")
	return cmd
}

func (o *poolLogsOptions) Run(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	pools, err := c.Pools(ctx, []string{o.name})
	if err != nil {
		return fmt.Errorf("reading pool %s: %w", o.name, err)
	}
	var ids []int64
	for _, w := range pools[0].Worker {
		if o.worker == 0 || w.ID == o.worker {
			ids = append(ids, w.ID)
		}
	}
	switch {
	case o.worker != 0 && len(ids) == 0:
		return fmt.Errorf("pool %s has no worker %d (see jobs pool status %s)", o.name, o.worker, o.name)
	case len(ids) == 0:
		o.ui.Output("Pool '%s' has no workers.", o.name)
		return nil
	case o.follow && len(ids) > 1:
		return fmt.Errorf("--follow streams one worker: name it (workers of pool %s: %s)", o.name, joinIDs(ids))
	}
	for _, id := range ids {
		if len(ids) > 1 {
			o.ui.Output("=== worker %d ===", id)
		}
		rc, err := c.Logs(ctx, id, nil, o.follow, 0)
		if err != nil {
			return fmt.Errorf("worker %d: %w", id, err)
		}
		_, err = io.Copy(o.ui.Stdout(), rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("worker %d: %w", id, err)
		}
	}
	return nil
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// poolJobOptions are the load options of a job for pool p: its resources
// must fit a worker of p.
func poolJobOptions(p api.Pool) *translator.PoolJob {
	pj := &translator.PoolJob{Name: p.Name}
	if ch := p.Choice; ch != nil {
		off := ch.Offering
		pj.Misfit = func(r task.Resources) string { return catalog.WorkerMisfit(r, off) }
		pj.Worker = off.Describe()
	}
	return pj
}
