package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/api"
)

// logsOptions is `skynomad jobs logs`.
type logsOptions struct {
	*session
	name       string
	follow     bool
	noFollow   bool
	controller bool
	tail       int
	id         int64  // 0: the latest job
	task       string // index or name; "": every task
}

func newLogsCommand(io IO) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [JOB_ID] [TASK]",
		Short: "Show (and follow) a managed job's logs",
		Long: `Show a managed job's logs: every task of a pipeline in order, or only TASK
(its index or name). Without JOB_ID or -n, the latest job. Finished jobs'
logs stay available. --controller shows the controller's own log for the
job: placement, preemptions, recoveries, restarts and exit codes.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(io, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.name, "name", "n", "", "the newest job of this name")
	f.BoolVar(&o.follow, "follow", true, "keep streaming until the job ends")
	f.BoolVar(&o.noFollow, "no-follow", false, "print what there is and return")
	f.BoolVar(&o.controller, "controller", false, "show the controller's log for the job")
	f.IntVar(&o.tail, "tail", 0, "start this many lines from the end (0: from the start)")
	return cmd
}

func (o *logsOptions) Complete(io IO, args []string) error {
	s, err := newSession(io)
	if err != nil {
		return err
	}
	o.session = s
	if len(args) > 0 {
		ids, err := parseIDs(args[:1])
		if err != nil {
			return err
		}
		o.id = ids[0]
	}
	if len(args) > 1 {
		o.task = args[1]
	}
	if o.noFollow {
		o.follow = false
	}
	return nil
}

func (o *logsOptions) Validate() error {
	if o.name != "" && o.id != 0 {
		return errors.New("give a job id or -n/--name, not both")
	}
	if o.controller && o.task != "" {
		return errors.New("--controller shows the whole job's controller log; drop TASK")
	}
	if o.tail < 0 {
		return fmt.Errorf("--tail %d: want 0 or more", o.tail)
	}
	return nil
}

func (o *logsOptions) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	id, err := o.resolveJob(ctx, c)
	if err != nil {
		return err
	}
	if o.controller {
		rc, err := c.ControllerLog(ctx, id, o.follow)
		if err := copyStream(ctx, o.ui, rc, err, fmt.Sprintf("the controller log of job %d", id)); err != nil {
			return err
		}
		return o.interrupted(ctx)
	}
	var task *int
	if o.task != "" {
		job, err := c.Job(ctx, id)
		if err != nil {
			return fmt.Errorf("reading job %d: %w", id, err)
		}
		i, err := taskIndex(job, o.task)
		if err != nil {
			return err
		}
		task = &i
	}
	if err := streamLogs(ctx, o.ui, c, id, task, o.follow, o.tail); err != nil {
		return err
	}
	return o.interrupted(ctx)
}

func (o *logsOptions) interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return withExitCode(ExitInterrupted, nil)
	}
	return nil
}

// resolveJob picks the job: the id given, the newest of the name given,
// or the newest of the user's jobs.
func (o *logsOptions) resolveJob(ctx context.Context, c controllerAPI) (int64, error) {
	if o.id != 0 {
		return o.id, nil
	}
	if o.name != "" {
		res, err := c.Queue(ctx, api.QueueRequest{All: true})
		if err != nil {
			return 0, fmt.Errorf("finding job %q: %w", o.name, err)
		}
		for _, j := range res.Jobs { // newest first
			if j.Name == o.name {
				return j.ID, nil
			}
		}
		return 0, fmt.Errorf("no managed job is named %q", o.name)
	}
	res, err := c.Queue(ctx, api.QueueRequest{All: true, Limit: 1, User: o.user()})
	if err != nil {
		return 0, fmt.Errorf("finding the latest job: %w", err)
	}
	if len(res.Jobs) == 0 {
		return 0, errors.New("no managed jobs yet")
	}
	return res.Jobs[0].ID, nil
}

// taskIndex finds a task by index or name.
func taskIndex(job api.Job, s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		for _, t := range job.Tasks {
			if t.Index == n {
				return n, nil
			}
		}
		return 0, fmt.Errorf("job %d has no task %d (it has %d task(s), from 0)", job.ID, n, len(job.Tasks))
	}
	var names []string
	for _, t := range job.Tasks {
		if t.Name == s {
			return t.Index, nil
		}
		names = append(names, t.Name)
	}
	return 0, fmt.Errorf("job %d has no task named %q (tasks: %v)", job.ID, s, names)
}
