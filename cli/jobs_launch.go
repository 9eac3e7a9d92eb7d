package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
	"github.com/skynomad/skynomad/ui"
)

// resourceRows caps the "Considered resources" table.
const resourceRows = 5

// launchOptions is `skynomad jobs launch YAML`.
type launchOptions struct {
	taskFileOptions
	detach  bool
	pool    string
	numJobs int
	yes     bool
}

func newLaunchCommand(io IO) *cobra.Command {
	o := &launchOptions{}
	cmd := &cobra.Command{
		Use:   "launch YAML",
		Short: "Launch a managed job from a SkyPilot task YAML",
		Long: `Launch a managed job from a SkyPilot task YAML (one task, or a pipeline).

Shows the resources the optimizer considered, asks to proceed (unless -y),
submits the job and, unless -d (or --num-jobs > 1), streams its logs until
it ends. The exit code is then the job's result: 0 SUCCEEDED, 100 FAILED,
101 FAILED_SETUP, 102 FAILED_PRECHECKS, 103 FAILED_NO_RESOURCE,
104 FAILED_CONTROLLER, 105 CANCELLED; 1 when the command itself failed (a
task file that does not load, no controller, a declined confirmation).

A task that nothing can run (no resource fits, or the engine cannot
provide what it asks for) is refused before anything is submitted, with
the reason, and the command exits 102 (FAILED_PRECHECKS).

Relative paths in the task (workdir, file_mounts sources) and in
--workdir and --env-file are relative to the directory the command runs
in, as with sky jobs launch; each must exist.`,
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
	f := cmd.Flags()
	o.taskFlags.register(cmd)
	f.BoolVarP(&o.detach, "detach-run", "d", false, "return after submitting instead of streaming the logs")
	f.StringVarP(&o.pool, "pool", "p", "", "submit to this worker pool")
	f.IntVar(&o.numJobs, "num-jobs", 1, "submit this many jobs (ranks 0..N-1 in $SKYPILOT_JOB_RANK)")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (o *launchOptions) Complete(io IO, cmd *cobra.Command, args []string) error {
	return o.complete(io, cmd, args[0])
}

func (o *launchOptions) Validate() error {
	if err := o.taskFlags.validate(); err != nil {
		return err
	}
	if o.numJobs < 1 {
		return fmt.Errorf("--num-jobs %d: want at least 1", o.numJobs)
	}
	return nil
}

func (o *launchOptions) Run(ctx context.Context) error {
	if o.pool != "" {
		return o.runOnPool(ctx)
	}
	dag, err := translator.LoadFile(o.file, o.load)
	if err != nil {
		return err
	}
	o.ui.Output("Task from YAML spec: %s", o.file)
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	plan, err := c.Plan(ctx, *dag)
	if err != nil {
		return fmt.Errorf("planning the job: %w", err)
	}
	if err := filesError(o.file, o.load, &plan); err != nil {
		return err
	}
	showPlan(o.ui, dag, &plan)
	if err := planError(o.file, o.load, &plan); err != nil {
		return withExitCode(ExitFailedPrechecks, err)
	}
	return o.submit(ctx, c, dag)
}

// runOnPool submits the job to a pool: it runs on the pool's workers, so
// its resources are checked against a worker instead of planned.
func (o *launchOptions) runOnPool(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	pools, err := c.Pools(ctx, []string{o.pool})
	if err != nil {
		return fmt.Errorf("pool %s: %w", o.pool, err)
	}
	p := pools[0]
	o.load.PoolJob = poolJobOptions(p)
	dag, err := translator.LoadFile(o.file, o.load)
	if err != nil {
		return err
	}
	o.ui.Output("YAML to run: %s", o.file)
	o.ui.Output("Submitting to pool '%s' with %d job(s).", o.pool, o.numJobs)
	o.ui.Output("Managed job '%s' will be launched on (estimated):", dag.Name)
	where := p.Requested
	if p.Choice != nil {
		where += " on " + p.Choice.Offering.Describe()
	}
	o.ui.Output("Use resources from pool '%s': %s.", o.pool, where)
	return o.submit(ctx, c, dag)
}

// submit asks to proceed, submits, then follows the job or says how to.
func (o *launchOptions) submit(ctx context.Context, c controllerAPI, dag *task.DAG) error {
	what := fmt.Sprintf("a managed job '%s'", dag.Name)
	if o.numJobs > 1 {
		what = fmt.Sprintf("%d managed jobs '%s'", o.numJobs, dag.Name)
	}
	if err := confirm(o.ui, o.yes, fmt.Sprintf("Launching %s. Proceed?", what)); err != nil {
		return err
	}
	if o.pool == "" { // a pool's job runs in its worker's workdir
		if err := stageFiles(ctx, o.ui, c, dag); err != nil {
			return err
		}
	}
	res, err := c.Launch(ctx, api.LaunchRequest{DAG: *dag, User: o.user(), Pool: o.pool, NumJobs: o.numJobs})
	if err != nil {
		return fmt.Errorf("submitting the job: %w", err)
	}
	o.ui.Output("")
	if o.detach || len(res.JobIDs) != 1 {
		showSubmitted(o.ui, res.JobIDs, o.pool)
		return nil
	}
	// Followed: the commands come after the job's output, as with sky.
	id := res.JobIDs[0]
	o.ui.Output("Managed Job ID: %d", id)
	if bucket.NeedsRecord(*dag) {
		showUpload(ctx, o.ui, c, id)
	}
	err = followJob(ctx, o.ui, c, id)
	usefulCommands(o.ui, jobCommands(id))
	return err
}

// showPlan prints the "Considered resources" table of every task.
func showPlan(u ui.UI, dag *task.DAG, plan *api.PlanResponse) {
	u.Output("Managed job '%s' will be launched on (estimated):", dag.Name)
	for i, tp := range plan.Tasks {
		if i >= len(dag.Tasks) {
			break
		}
		t := dag.Tasks[i]
		if len(dag.Tasks) > 1 {
			u.Output("Task '%s' (%d of %d):", t.Name, i+1, len(dag.Tasks))
		}
		showResources(u, t, &tp)
	}
}

// showResources prints the "Considered resources" table of one task's
// plan.
func showResources(u ui.UI, t task.Task, tp *api.TaskPlan) {
	if tp.Error != "" {
		u.Failure("Nothing can run task '%s': %s", t.Name, tp.Error)
		return
	}
	nodes := max(t.NumNodes, 1)
	plural := "s"
	if nodes == 1 {
		plural = ""
	}
	u.Output("Considered resources (%d node%s):", nodes, plural)
	u.Table(resourcesTable(catalog.Rows(tp.Choices, t, resourceRows)))
}

func resourcesTable(rows []catalog.Row) ui.Table {
	t := ui.Table{
		Style:   ui.StyleRuled,
		Headers: []string{"INFRA", "INSTANCE", "vCPUs", "Mem(GB)", "GPUS", "COST ($)", "CHOSEN"},
		Align:   []ui.Align{6: ui.AlignCenter},
	}
	for _, r := range rows {
		chosen := ""
		if r.Chosen {
			chosen = "✔"
		}
		t.Rows = append(t.Rows, []string{r.Infra, r.Instance, r.VCPUs, r.MemGB, r.GPUs, r.Cost, chosen})
	}
	return t
}

// showSubmitted prints the new job ids and the commands that go with them.
func showSubmitted(u ui.UI, ids []int64, pool string) {
	if len(ids) == 1 {
		u.Output("Managed Job ID: %d", ids[0])
		usefulCommands(u, jobCommands(ids[0]))
		return
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = fmt.Sprint(id)
	}
	u.Output("Jobs submitted with IDs: %s.", strings.Join(strs, ","))
	cancel := [2]string{"To cancel the jobs:", "skynomad jobs cancel " + strings.Join(strs, " ")}
	if pool != "" {
		cancel = [2]string{"To cancel all jobs on the pool:", "skynomad jobs cancel --pool " + pool}
	}
	usefulCommands(u, [][2]string{
		{"To stream job logs:", "skynomad jobs logs <job-id>"},
		{"To stream controller logs:", "skynomad jobs logs --controller <job-id>"},
		cancel,
		{"To view all managed jobs:", "skynomad jobs queue"},
	})
}

// jobCommands are the useful commands of one job.
func jobCommands(id int64) [][2]string {
	return [][2]string{
		{"To cancel the job:", fmt.Sprintf("skynomad jobs cancel %d", id)},
		{"To stream job logs:", fmt.Sprintf("skynomad jobs logs %d", id)},
		{"To stream controller logs:", fmt.Sprintf("skynomad jobs logs --controller %d", id)},
		{"To view all managed jobs:", "skynomad jobs queue"},
	}
}

// usefulCommands prints the "📋 Useful Commands" tree.
func usefulCommands(u ui.UI, items [][2]string) {
	width := 0
	for _, it := range items {
		width = max(width, len(it[0]))
	}
	u.Output("📋 Useful Commands")
	for i, it := range items {
		branch := "├── "
		if i == len(items)-1 {
			branch = "└── "
		}
		u.Output("%s%-*s  %s", branch, width, it[0], it[1])
	}
}
