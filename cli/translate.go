package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
	"github.com/skynomad/skynomad/ui"
)

// translateOptions is `skynomad translate FILE`.
type translateOptions struct {
	taskFlags
	file       string
	output     string
	outDir     string
	jobID      int64
	runnerPath string
	taskDriver string
	// jobsBucket is jobs.bucket of the configuration, if it reads.
	jobsBucket string
	// volumeType is nomad.volume_type of the configuration, if it reads.
	volumeType string

	// Set by Complete.
	ui   ui.UI
	cat  *catalog.Catalog
	out  io.Writer
	now  time.Time
	load translator.LoadOptions
}

func newTranslateCommand(io IO) *cobra.Command {
	o := &translateOptions{}
	cmd := &cobra.Command{
		Use:   "translate FILE",
		Short: "Print the Nomad jobspec skynomad would run for a SkyPilot task YAML",
		Long: `Print the Nomad jobspec of each task of a SkyPilot task YAML, as the
controller would register it for the first attempt: placed on the cheapest
offering of the catalog (the copy "skynomad catalog update" downloaded,
else the embedded one) that the capacity plugin can start, with the
SKYPILOT_* environment of job --job-id. Nothing is submitted.

-o hcl prints a jobspec after a "# task N: name" comment; -o json prints
a {"Job": ...} document, the body of POST /v1/jobs and of "nomad job run
-json". A pool file prints the job of one of its workers, <name>-worker:
setup, then a run that holds one node of class sky-pool-<name> (one
worker per node) for the jobs submitted to the pool.

A pipeline has one Nomad job per task. On stdout it prints every task's
jobspec, one after the other, and warns: nomad job run takes one job per
file. --out DIR writes one file per task instead, each valid alone,
named after its Nomad job (sky-<job id>-<task>.nomad.hcl, or .json with
-o json), and prints their paths:

  skynomad translate --out pipeline-jobspecs examples/pipeline.yaml
  nomad job run pipeline-jobspecs/sky-1-0.nomad.hcl

A local workdir and local file mounts are fetched by the runner from the
job-files bucket (jobs.bucket in the configuration, else a temporary
bucket per job, shown as s3://skynomad-<runid>), where the controller
uploads them under job-<runid>/ before it registers the job; bucket
mounts are mounted (MOUNT, MOUNT_CACHED) or copied (COPY) by the runner.

Secrets and the stores' credentials are never printed: the jobspec reads
them from the Nomad Variable nomad/jobs/<job id>, which the controller
writes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(io, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "hcl", "output format: hcl or json")
	f.StringVar(&o.outDir, "out", "", "write one jobspec file per task into directory `DIR` (created if missing), not to stdout")
	o.taskFlags.register(cmd)
	f.Int64Var(&o.jobID, "job-id", 1, "managed job id the jobspec is for (its Nomad job is sky-<id>-<task>)")
	f.StringVar(&o.taskDriver, "task-driver", config.DefaultTaskDriver, "the Nomad task driver that runs the tasks: skypilot (the plugin) or raw_exec")
	f.StringVar(&o.runnerPath, "runner-path", "skynomad", "path of the skynomad binary on the Nomad clients (raw_exec only)")
	return cmd
}

func (o *translateOptions) Complete(io IO, cmd *cobra.Command, args []string) error {
	o.file = args[0]
	o.ui = ui.New(io.Stdin, io.Stdout, io.Stderr)
	if home, err := config.Home(io.Getenv); err == nil {
		if cfg, err := config.Load(home, io.Getenv); err == nil {
			o.jobsBucket = cfg.Jobs.Bucket
			o.volumeType = cfg.Nomad.VolumeType
		}
	}
	o.out = cmd.OutOrStdout()
	o.now = io.now()
	var err error
	// The offerings a controller on the Nomad engine plans on: what the
	// capacity plugin cannot start is refused, saying so.
	o.cat = homeCatalog(io).Refusing(policy.Unstartable)
	o.load, err = o.loadOptions(cmd, io.Getenv, func(msg string) { o.ui.Warn("%s", msg) })
	if err != nil {
		return err
	}
	return nil
}

func (o *translateOptions) Validate() error {
	if o.output != render.FormatHCL && o.output != render.FormatJSON {
		return fmt.Errorf("-o %s: want hcl or json", o.output)
	}
	if err := o.taskFlags.validate(); err != nil {
		return err
	}
	if o.jobID < 1 {
		return fmt.Errorf("--job-id %d: want at least 1", o.jobID)
	}
	if o.taskDriver != "skypilot" && o.taskDriver != "raw_exec" {
		return fmt.Errorf("--task-driver %s: want skypilot or raw_exec", o.taskDriver)
	}
	return nil
}

func (o *translateOptions) Run() error {
	store := bucket.PreviewTemp
	if o.jobsBucket != "" {
		store = o.jobsBucket
	}
	// What a controller would refuse of the bucket mounts without
	// reaching a store is refused here too, at the mount.
	o.load.CheckFiles = func(t task.Task) []translator.FilesProblem {
		var out []translator.FilesProblem
		for _, p := range bucket.PreviewProblems(store, t) {
			out = append(out, translator.FilesProblem{Mount: p.Mount, Msg: p.Msg, Accepted: p.Accepted})
		}
		return out
	}
	cat := o.cat
	var local *catalog.Offering
	// What nothing can run is refused at the task's resources.
	o.load.CheckResources = func(t task.Task) string {
		c := o.cat
		if wantsThisHost(t) {
			if local == nil {
				l, err := catalog.Local()
				if err != nil {
					return err.Error()
				}
				local = &l
			}
			c = c.With(*local)
		}
		if _, err := c.Plan(t, catalog.Constraints{}); err != nil {
			return fmt.Sprintf("nothing can run task '%s': %v", t.Name, err)
		}
		return ""
	}
	dag, err := translator.LoadFile(o.file, o.load)
	if err != nil {
		return err
	}
	if local != nil {
		cat = cat.With(*local)
	}
	ts, err := render.Preview(dag, render.PreviewOptions{
		JobID:     o.jobID,
		Submitted: o.now,
		Catalog:   cat,
		Render:    render.Options{TaskDriver: o.taskDriver, RunnerPath: o.runnerPath, VolumeType: o.volumeType},
		Files:     func(d task.DAG, i int) (node.Files, error) { return bucket.Preview(store, d, i) },
	})
	if err != nil {
		return err
	}
	if o.outDir != "" {
		paths, err := render.WriteJobspecFiles(o.outDir, ts, o.output)
		if err != nil {
			return err
		}
		for _, p := range paths {
			o.ui.Output("%s", p)
		}
		return nil
	}
	if len(ts) > 1 {
		o.ui.Warn("this output holds %d jobspecs, one per task; nomad job run takes one per file: --out DIR writes one file per task", len(ts))
	}
	return render.WriteJobspecs(o.out, ts, o.output)
}

// wantsThisHost: a task asking for infra local is planned on this host
// (on Nomad: any node, no node class). Otherwise this host, which costs
// nothing, would win every plan, and translate shows cloud placements.
func wantsThisHost(t task.Task) bool {
	for _, c := range append([]task.Resources{t.Resources}, t.Candidates...) {
		if c.Infra.Cloud == catalog.LocalCloud {
			return true
		}
	}
	return false
}
