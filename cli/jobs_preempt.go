package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/api"
)

// preemptOptions is `skynomad jobs preempt`: fault injection.
type preemptOptions struct {
	*session
	task   int
	notice time.Duration
	id     int64
}

func newPreemptCommand(io IO) *cobra.Command {
	o := &preemptOptions{}
	cmd := &cobra.Command{
		Use:   "preempt JOB_ID",
		Short: "Preempt a running job's task, as a spot reclaim would (fault injection for tests and demos)",
		Long: `Preempt the running attempt of a job's task, as a spot reclaim would: the
controller recovers the task elsewhere and counts a recovery (not a
restart). With --notice the task first gets SIGTERM and
$SKYPILOT_PREEMPTION_DEADLINE, and is killed at the deadline.`,
		Args: cobra.ExactArgs(1),
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
	cmd.Flags().IntVar(&o.task, "task", 0, "index of the task to preempt")
	cmd.Flags().DurationVar(&o.notice, "notice", 0, "spot notice before the kill, e.g. 30s")
	return cmd
}

func (o *preemptOptions) Complete(io IO, args []string) error {
	s, err := newSession(io)
	if err != nil {
		return err
	}
	o.session = s
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	o.id = ids[0]
	return nil
}

func (o *preemptOptions) Validate() error {
	if o.task < 0 || o.notice < 0 {
		return fmt.Errorf("--task and --notice cannot be negative")
	}
	return nil
}

func (o *preemptOptions) Run(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	if err := c.Preempt(ctx, o.id, api.PreemptRequest{Task: o.task, NoticeSeconds: o.notice.Seconds()}); err != nil {
		return fmt.Errorf("preempting job %d task %d: %w", o.id, o.task, err)
	}
	o.ui.Output("Preempted managed job %d task %d; the controller will recover it.", o.id, o.task)
	return nil
}
