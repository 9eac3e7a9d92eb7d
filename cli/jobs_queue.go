package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/api"
)

// queueOptions is `skynomad jobs queue`.
type queueOptions struct {
	*session
	all          bool
	allUsers     bool
	skipFinished bool
	limit        int
	output       string
	verbose      bool
	pool         string
	ids          []int64
}

func newQueueCommand(io IO) *cobra.Command {
	o := &queueOptions{}
	cmd := &cobra.Command{
		Use:   "queue [JOB_IDS...]",
		Short: "List managed jobs",
		Long: `List managed jobs, newest first.

Without -a the list holds every job in progress and the most recently
finished ones (the controller keeps the 50 newest finished jobs in view);
-a lists every job. -u lists the jobs of every user, not only yours, with
a USER column.

The "In progress tasks" line counts every job of yours in progress (every
user's with -u), whichever rows JOB_IDS, -s and -l select.

-o json prints the controller's answer: {"jobs": [...], "in_progress":
{"RUNNING": 2}}; durations (total_duration, job_duration) are seconds, a
number with up to three decimals.`,
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
	f.BoolVarP(&o.all, "all", "a", false, "list every job, however long ago it finished")
	f.BoolVarP(&o.allUsers, "all-users", "u", false, "list the jobs of every user, with a USER column")
	f.BoolVarP(&o.skipFinished, "skip-finished", "s", false, "list only jobs in progress")
	f.IntVarP(&o.limit, "limit", "l", 0, "list at most this many jobs")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "add restarts, exit code, infra, instance and details")
	f.StringVarP(&o.pool, "pool", "p", "", "list only the jobs of this pool")
	return cmd
}

func (o *queueOptions) Complete(io IO, args []string) error {
	s, err := newSession(io)
	if err != nil {
		return err
	}
	o.session = s
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	o.ids = ids
	return nil
}

func (o *queueOptions) Validate() error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("--output %q: want table or json", o.output)
	}
	if o.limit < 0 {
		return fmt.Errorf("--limit %d: want 0 (no limit) or more", o.limit)
	}
	return nil
}

func (o *queueOptions) Run(ctx context.Context) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	req := api.QueueRequest{All: o.all, SkipFinished: o.skipFinished, Limit: o.limit, JobIDs: o.ids, Pool: o.pool}
	if !o.allUsers {
		req.User = o.user()
	}
	res, err := c.Queue(ctx, req)
	if err != nil {
		return fmt.Errorf("listing managed jobs: %w", err)
	}
	if o.output == "json" {
		enc := json.NewEncoder(o.ui.Stdout())
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	o.ui.Output("Managed jobs")
	o.ui.Output("%s", inProgressLine(res.InProgress))
	if len(res.Jobs) > 0 {
		o.ui.Table(queueTable(res.Jobs, o.io.now(), queueColumns{verbose: o.verbose, users: o.allUsers}))
	}
	return nil
}

// parseIDs reads job ids given as arguments.
func parseIDs(args []string) ([]int64, error) {
	var ids []int64
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			return nil, fmt.Errorf("%q is not a job id (a positive integer)", a)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
