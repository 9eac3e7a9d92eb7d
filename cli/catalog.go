package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/ui"
)

// newCatalogCommand is the `skynomad catalog` group.
func newCatalogCommand(io IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List the instance types and accelerators skynomad plans on, with prices; refresh them",
		Long: `skynomad plans on SkyPilot's catalog of AWS and GCP offerings: instance
types, accelerators, regions and zones, on-demand and spot prices. A copy
is embedded in the binary; "skynomad catalog update" downloads the current
one into <home>/catalogs, which the CLI and the controller then read, and
which a controller on the Nomad engine refreshes when it starts if it is
older than 7 hours (SkyPilot's pull frequency).`,
	}
	cmd.AddCommand(newCatalogListCommand(io), newCatalogUpdateCommand(io))
	return cmd
}

// catalogCache is the catalog cache of the configured home.
func catalogCache(io IO) (catalog.Cache, error) {
	home, err := config.Home(io.Getenv)
	if err != nil {
		return catalog.Cache{}, err
	}
	cfg, err := config.Load(home, io.Getenv)
	if err != nil {
		return catalog.Cache{}, err
	}
	return catalog.Cache{Dir: config.PathsOf(home).Catalogs, BaseURL: cfg.Catalog.URL, Now: io.Now}, nil
}

// homeCatalog is the catalog the CLI plans on: the home's downloaded
// copies when they read, else the embedded one. A home or configuration
// that does not read leaves the embedded one.
func homeCatalog(io IO) *catalog.Catalog {
	home, err := config.Home(io.Getenv)
	if err != nil {
		return catalog.Default()
	}
	return catalog.Load(config.PathsOf(home).Catalogs)
}

// catalogListOptions is `skynomad catalog ls`.
type catalogListOptions struct {
	query catalog.ListQuery

	ui  ui.UI
	cat *catalog.Catalog
}

func newCatalogListCommand(io IO) *cobra.Command {
	o := &catalogListOptions{}
	cmd := &cobra.Command{
		Use:     "ls [NAME[:COUNT]]",
		Aliases: []string{"list"},
		Short:   "List instance types, or accelerators with their counts, with the cheapest prices and where",
		Long: `List the offerings of the catalog, as sky show-gpus does.

With --gpus, or an accelerator NAME (A100, h100:8, tpu-v6e-8), one line
per accelerator, count, cloud and instance type: the host's vCPUs and
memory, and the cheapest hourly on-demand and spot price with the region
that has it. Without, one line per instance type. --cloud and --region
narrow the offerings the prices are taken from.

The prices are SkyPilot's catalog's (USD per instance-hour); stderr says
which copy they come from (the embedded one, or the one catalog update
downloaded).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(io, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.query.GPUs, "gpus", false, "list accelerators (GPUs, TPUs, Inferentia, ...) rather than instance types")
	f.StringVar(&o.query.Cloud, "cloud", "", "list only this cloud's offerings: aws or gcp")
	f.StringVar(&o.query.Region, "region", "", "list only this region's offerings (us-east-2, us-central1)")
	return cmd
}

func (o *catalogListOptions) Complete(io IO, args []string) error {
	o.ui = ui.New(io.Stdin, io.Stdout, io.Stderr)
	if len(args) == 1 {
		o.query.Name = args[0]
	}
	o.query.Cloud = strings.ToLower(o.query.Cloud)
	o.cat = homeCatalog(io)
	return nil
}

func (o *catalogListOptions) Validate() error {
	if o.query.Cloud != "" && o.query.Cloud != catalog.AWS && o.query.Cloud != catalog.GCP {
		return fmt.Errorf("--cloud %s: want %s or %s", o.query.Cloud, catalog.AWS, catalog.GCP)
	}
	return nil
}

func (o *catalogListOptions) Run() error {
	for _, origin := range o.cat.Origins() {
		if origin.Problem != "" {
			o.ui.Warn("%s", origin.Problem)
		}
		o.ui.Info("Catalog %s", origin)
	}
	list, err := o.cat.List(o.query)
	if err != nil {
		return err
	}
	t := ui.Table{Style: ui.StyleCompact}
	if o.query.GPUs || o.query.Name != "" {
		t.Headers = []string{"GPU", "QTY", "CLOUD", "INSTANCE_TYPE", "vCPUs", "HOST_MEM", "HOURLY_PRICE", "HOURLY_SPOT_PRICE"}
		for _, l := range list {
			t.Rows = append(t.Rows, []string{l.Accelerator, number(l.Count), strings.ToUpper(l.Cloud), l.InstanceType,
				number(l.VCPUs), number(l.MemoryGB) + "GB", price(l.OnDemandPrice, l.OnDemandRegion), price(l.SpotPrice, l.SpotRegion)})
		}
	} else {
		t.Headers = []string{"CLOUD", "INSTANCE_TYPE", "vCPUs", "MEM", "ACCELERATORS", "HOURLY_PRICE", "HOURLY_SPOT_PRICE"}
		for _, l := range list {
			acc := "-"
			if l.Accelerator != "" {
				acc = l.Accelerator + ":" + number(l.Count)
			}
			t.Rows = append(t.Rows, []string{strings.ToUpper(l.Cloud), l.InstanceType, number(l.VCPUs), number(l.MemoryGB) + "GB",
				acc, price(l.OnDemandPrice, l.OnDemandRegion), price(l.SpotPrice, l.SpotRegion)})
		}
	}
	o.ui.Table(t)
	return nil
}

// price is "$ 0.384 us-east-2", or "-" for no price.
func price(p float64, region string) string {
	if p <= 0 {
		return "-"
	}
	return fmt.Sprintf("$ %.3f %s", p, region)
}

// number shows whole numbers as integers and others with at most three
// decimals (0.125).
func number(v float64) string { return catalog.Decimal(v, 3) }

// catalogUpdateOptions is `skynomad catalog update`.
type catalogUpdateOptions struct {
	ui    ui.UI
	cache catalog.Cache
}

func newCatalogUpdateCommand(io IO) *cobra.Command {
	o := &catalogUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download SkyPilot's current catalog into the home directory",
		Long: `Download each cloud's file of SkyPilot's catalog,
<url>/v7/<cloud>/vms.csv (catalog.url in config.yaml or
SKYNOMAD_CATALOG_URL; default SkyPilot's, on GitHub), into
<home>/catalogs/v7/<cloud>/vms.csv, whatever the age of the copy there.

A copy is replaced only by a response that reads as a catalog, and
atomically. When a download fails, the command says which copy stays in
use (the previous download, else the one embedded in the binary) and
exits 1. A controller already running plans on the catalog it read when
it started: restart it to use the new one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(io); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	return cmd
}

func (o *catalogUpdateOptions) Complete(io IO) error {
	o.ui = ui.New(io.Stdin, io.Stdout, io.Stderr)
	cache, err := catalogCache(io)
	if err != nil {
		return err
	}
	o.cache = cache
	return nil
}

func (o *catalogUpdateOptions) Run(ctx context.Context) error {
	failed := 0
	for _, cloud := range catalog.Clouds() {
		step := o.ui.Step(fmt.Sprintf("Updating the %s catalog from %s", cloud, o.cache.URL(cloud)))
		r := o.cache.Update(ctx, cloud)
		if r.Err != nil {
			failed++
			step.Fail(fmt.Sprintf("%s: %v; using the %s", cloud, r.Err, strings.TrimPrefix(r.Using.String(), cloud+": ")))
			continue
		}
		step.Done(fmt.Sprintf("%s: %d offerings, saved in %s", cloud, r.Offerings, r.Using.Path))
	}
	if failed > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}
