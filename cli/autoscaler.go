package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/ui"
)

// newAutoscalerCommand is the `skynomad autoscaler` group.
func newAutoscalerCommand(io IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "autoscaler",
		Short: "Set up the Nomad Autoscaler that provisions each offering's nodes",
	}
	cmd.AddCommand(newPoliciesCommand(io))
	return cmd
}

// policiesOptions is `skynomad autoscaler policies --out DIR`.
type policiesOptions struct {
	io  IO
	out string

	ui   ui.UI
	opts policy.Options
}

func newPoliciesCommand(io IO) *cobra.Command {
	o := &policiesOptions{io: io}
	cmd := &cobra.Command{
		Use:   "policies --out DIR",
		Short: "Write one Nomad Autoscaler policy per offering the config enables",
		Long: `Write one Nomad Autoscaler policy file per offering (cloud, region,
instance type, spot or on-demand) that config.yaml's autoscaler section
enables: min 0, max autoscaler.max_nodes, scaled by skynomad-target to the
demand skynomad-apm reads from the controller. Point the agent's
policy { dir = ... } at DIR (jobspecs/skynomad-autoscaler.nomad.hcl does).

The agent reads a policy file once: after changing the config, write the
policies again and restart the agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "directory to write the policy files into (created if missing)")
	return cmd
}

func (o *policiesOptions) Complete() error {
	o.ui = ui.New(o.io.Stdin, o.io.Stdout, o.io.Stderr)
	home, err := config.Home(o.io.Getenv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(home, o.io.Getenv)
	if err != nil {
		return err
	}
	a := cfg.Autoscaler
	o.opts = policy.Options{
		Infra: a.Infra, InstanceTypes: a.InstanceTypes, Capacity: a.Capacity, MaxNodes: a.MaxNodes,
		EvaluationInterval: time.Duration(a.EvaluationInterval), Cooldown: time.Duration(a.Cooldown),
		NodeDrainDeadline: time.Duration(a.NodeDrainDeadline),
	}
	return nil
}

func (o *policiesOptions) Validate() error {
	if o.out == "" {
		return fmt.Errorf("--out DIR: required: where the agent's policy { dir } points")
	}
	return nil
}

func (o *policiesOptions) Run() error {
	offs := policy.Offerings(catalog.Default(), o.opts)
	if len(offs) == 0 {
		return fmt.Errorf("no AWS or GCP offering matches autoscaler.infra %v, instance_types %v and capacity %v in config.yaml",
			o.opts.Infra, o.opts.InstanceTypes, o.opts.Capacity)
	}
	files, err := policy.Write(o.out, offs, o.opts)
	if err != nil {
		return err
	}
	o.ui.Output("wrote %d policies to %s", len(files), o.out)
	return nil
}
