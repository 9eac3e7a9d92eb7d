package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/api"
)

// cancelOptions is `skynomad jobs cancel`.
type cancelOptions struct {
	*session
	name     string
	all      bool
	allUsers bool
	pool     string
	yes      bool
	ids      []int64
}

func newCancelCommand(io IO) *cobra.Command {
	o := &cancelOptions{}
	cmd := &cobra.Command{
		Use:   "cancel [JOB_IDS...]",
		Short: "Cancel managed jobs",
		Long: `Cancel managed jobs chosen by exactly one of: job ids, -n NAME, -a (all
your jobs; with -u every user's), -p POOL. Waits until each job is
CANCELLED, its processes stopped.`,
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
	f.StringVarP(&o.name, "name", "n", "", "cancel the jobs of this name")
	f.BoolVarP(&o.all, "all", "a", false, "cancel all your jobs")
	f.BoolVarP(&o.allUsers, "all-users", "u", false, "with -a: cancel every user's jobs")
	f.StringVarP(&o.pool, "pool", "p", "", "cancel the jobs of this pool")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (o *cancelOptions) Complete(io IO, args []string) error {
	s, err := newSession(io)
	if err != nil {
		return err
	}
	o.session = s
	o.ids, err = parseIDs(args)
	return err
}

func (o *cancelOptions) Validate() error {
	n := 0
	for _, set := range []bool{len(o.ids) > 0, o.name != "", o.all, o.pool != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("choose the jobs with exactly one of: job ids, -n/--name, -a/--all, -p/--pool")
	}
	if o.allUsers && !o.all {
		return errors.New("-u/--all-users goes with -a/--all")
	}
	return nil
}

func (o *cancelOptions) Run(ctx context.Context) error {
	req := api.CancelRequest{JobIDs: o.ids, Name: o.name, All: o.all, Pool: o.pool}
	var what string
	switch {
	case len(o.ids) > 0:
		strs := make([]string, len(o.ids))
		for i, id := range o.ids {
			strs[i] = fmt.Sprint(id)
		}
		what = "managed job(s) " + strings.Join(strs, ", ")
	case o.name != "":
		what = fmt.Sprintf("managed job(s) named '%s'", o.name)
	case o.pool != "":
		what = fmt.Sprintf("all managed jobs of pool '%s'", o.pool)
	case o.allUsers:
		what = "all managed jobs of every user"
	default:
		what = "all your managed jobs"
		req.User = o.user()
	}
	if err := confirm(o.ui, o.yes, fmt.Sprintf("Cancelling %s. Proceed?", what)); err != nil {
		return err
	}
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	res, err := c.Cancel(ctx, req)
	if err != nil {
		return fmt.Errorf("cancelling: %w", err)
	}
	if len(res.Cancelled) == 0 {
		o.ui.Output("No matching managed job in progress.")
		return nil
	}
	strs := make([]string, len(res.Cancelled))
	for i, id := range res.Cancelled {
		strs[i] = fmt.Sprint(id)
	}
	step := o.ui.Step(fmt.Sprintf("Cancelling managed job(s) %s", strings.Join(strs, ", ")))
	if _, err := waitAllTerminal(ctx, c, res.Cancelled); err != nil {
		step.Fail("")
		return err
	}
	step.Done(fmt.Sprintf("Cancelled managed job(s) %s.", strings.Join(strs, ", ")))
	return nil
}
