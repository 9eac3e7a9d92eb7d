package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
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

// Values of `autoscaler policies --pools`.
const (
	poolsAuto = "auto"
	poolsNone = "none"
)

// poolsTimeout bounds the question to the controller.
const poolsTimeout = 10 * time.Second

// policiesOptions is `skynomad autoscaler policies --out DIR`.
type policiesOptions struct {
	io    IO
	out   string
	pools string

	ui   ui.UI
	opts policy.Options
	// cat is the catalog the controller plans on (default: the embedded one).
	cat *catalog.Catalog
	// controller names the controller asked for the pools, for messages.
	controller string
	// listPools asks it for every pool; nil with --pools=none.
	listPools func(ctx context.Context) ([]api.Pool, error)
}

func newPoliciesCommand(io IO) *cobra.Command {
	o := &policiesOptions{io: io}
	cmd := &cobra.Command{
		Use:   "policies --out DIR",
		Short: "Write one Nomad Autoscaler policy per offering the config enables, and per worker pool",
		Long: `Write one Nomad Autoscaler policy file per offering (cloud, region,
instance type, spot or on-demand) that config.yaml's autoscaler section
enables: min 0, max autoscaler.max_nodes, scaled by skynomad-target to the
demand skynomad-apm reads from the controller. Point the agent's
policy { dir = ... } at DIR (jobspecs/skynomad-autoscaler.nomad.hcl does).

With --pools=auto (the default) the command also asks the configured
controller for its worker pools and writes one policy per pool,
sky-pool-<name>.hcl: exactly as many nodes of node class sky-pool-<name>
as the pool has workers (fixed-value, min = max), launched from the pool's
offering. A pool file in DIR whose pool the controller no longer has is
rewritten to keep zero nodes, so its nodes go; delete it once they have.
A controller that does not answer leaves the pool files as they are (a
warning says so); the command never starts a controller. --pools=none
writes the offerings' policies only.

The agent reads a policy file once: after changing the config, write the
policies again and restart the agent. A pool's policy is named after its
size and offering: after a pool changes, write the policies again and
reload the agent (SIGHUP).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "directory to write the policy files into (created if missing)")
	cmd.Flags().StringVar(&o.pools, "pools", poolsAuto, "worker pools' policies: auto (ask the controller, if it answers) or none")
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
	o.cat = catalog.Load(config.PathsOf(home).Catalogs)
	a := cfg.Autoscaler
	o.opts = policy.Options{
		Infra: a.Infra, InstanceTypes: a.InstanceTypes, Capacity: a.Capacity, MaxNodes: a.MaxNodes,
		EvaluationInterval: time.Duration(a.EvaluationInterval), Cooldown: time.Duration(a.Cooldown),
		NodeDrainDeadline: time.Duration(a.NodeDrainDeadline),
	}
	if o.pools == poolsAuto {
		// The controller as configured, never started here: a local one
		// that is not running has no pools on a cluster.
		addr, token := cfg.Controller.Address, cfg.Controller.Token
		if cfg.ControllerSocket() == config.PathsOf(home).Socket {
			token = ""
		}
		o.controller = addr
		o.listPools = func(ctx context.Context) ([]api.Pool, error) {
			c, err := client.New(addr, token)
			if err != nil {
				return nil, err
			}
			return c.Pools(ctx, nil)
		}
	}
	return nil
}

func (o *policiesOptions) Validate() error {
	if o.out == "" {
		return fmt.Errorf("--out DIR: required: where the agent's policy { dir } points")
	}
	if o.pools != poolsAuto && o.pools != poolsNone {
		return fmt.Errorf("--pools %s: want auto or none", o.pools)
	}
	return nil
}

func (o *policiesOptions) Run(ctx context.Context) error {
	if o.cat == nil {
		o.cat = catalog.Default()
	}
	offs := policy.Offerings(o.cat, o.opts)
	if len(offs) == 0 {
		return fmt.Errorf("no AWS or GCP offering matches autoscaler.infra %v, instance_types %v and capacity %v in config.yaml",
			o.opts.Infra, o.opts.InstanceTypes, o.opts.Capacity)
	}
	files, err := policy.Write(o.out, offs, o.opts)
	if err != nil {
		return err
	}
	o.ui.Output("wrote %d policies to %s", len(files), o.out)
	if o.listPools == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, poolsTimeout)
	defer cancel()
	pools, err := o.listPools(ctx)
	switch {
	case client.IsUnreachable(err):
		o.ui.Warn("no controller answers at %s: the worker pools' policies in %s are left as they are (--pools=none skips them)", o.controller, o.out)
		return nil
	case err != nil:
		return fmt.Errorf("the controller's worker pools: %w", err)
	}
	var ps []policy.Pool
	for _, p := range pools {
		pp, why := poolPolicy(p)
		if why != "" {
			o.ui.Warn("pool %s: no policy: %s", p.Name, why)
			continue
		}
		ps = append(ps, pp)
	}
	files, retired, err := policy.WritePools(o.out, ps, o.opts)
	if err != nil {
		return err
	}
	o.ui.Output("wrote %d worker pool policies to %s", len(files), o.out)
	for _, name := range retired {
		o.ui.Output("pool %s is gone: its policy keeps 0 nodes; delete %s once they are gone", name, filepath.Join(o.out, policy.PoolFile(name)))
	}
	return nil
}

// poolPolicy is what pool p's policy keeps: its workers (none once it is
// shutting down) on the offering of its placement. why says why p has no
// policy.
func poolPolicy(p api.Pool) (pp policy.Pool, why string) {
	c := p.Choice
	switch {
	case c == nil:
		return pp, "it has no placement yet"
	case !policy.Provisioned(c.Offering.Cloud):
		return pp, fmt.Sprintf("its workers run on %s, which skynomad-target does not provision", c.Offering.Cloud)
	}
	workers := p.Workers
	if p.Status == api.PoolShuttingDown {
		workers = 0
	}
	return policy.Pool{Name: p.Name, Workers: workers, Offering: cloud.Offering{
		Cloud: c.Offering.Cloud, Region: c.Offering.Region, InstanceType: c.Offering.InstanceType, Spot: c.Spot,
	}}, ""
}
