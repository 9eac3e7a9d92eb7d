package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
	"github.com/skynomad/skynomad/ui"
)

// translateOptions is `skynomad translate FILE`.
type translateOptions struct {
	file       string
	output     string
	overrides  translator.Overrides
	useSpot    bool
	noUseSpot  bool
	envs       []string
	envFile    string
	secrets    []string
	jobID      int64
	runnerPath string

	// Set by Complete.
	ui   ui.UI
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
offering of the embedded catalog, with the SKYPILOT_* environment of job
--job-id. Nothing is submitted.

A pipeline prints one jobspec per task, each after a "# task N: name"
comment (-o hcl) or as one {"Job": ...} document per task (-o json, the
body of POST /v1/jobs and of "nomad job run -json"). A pool file prints
its worker job: a sysbatch job running setup on every node of class
sky-pool-<name>.

Secrets are never printed: the jobspec reads them from the Nomad Variable
nomad/jobs/<job id>, which the controller writes.`,
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
	f.StringVarP(&o.overrides.Name, "name", "n", "", "name of the managed job (default: the YAML's name)")
	f.StringVar(&o.overrides.Infra, "infra", "", "where to run: cloud[/region[/zone]], e.g. aws/us-east-1")
	f.StringVar(&o.overrides.CPUs, "cpus", "", "vCPUs per node: 8 (exactly) or 8+ (at least)")
	f.StringVar(&o.overrides.Memory, "memory", "", "memory per node in GB: 32 or 32+")
	f.StringVar(&o.overrides.GPUs, "gpus", "", "accelerators per node, e.g. A100:8")
	f.StringVarP(&o.overrides.InstanceType, "instance-type", "t", "", "instance type, e.g. m6i.2xlarge")
	f.IntVar(&o.overrides.NumNodes, "num-nodes", 0, "number of nodes")
	f.BoolVar(&o.useSpot, "use-spot", false, "run on spot instances")
	f.BoolVar(&o.noUseSpot, "no-use-spot", false, "run on on-demand instances")
	f.StringVar(&o.overrides.ImageID, "image-id", "", "image to run, e.g. docker:python:3.12-slim")
	f.StringVar(&o.overrides.DiskSize, "disk-size", "", "OS disk size in GB")
	f.StringArrayVar(&o.envs, "env", nil, "environment variable NAME=VALUE, or NAME to pass yours (repeatable)")
	f.StringVar(&o.envFile, "env-file", "", "dotenv file of environment variables")
	f.StringArrayVar(&o.secrets, "secret", nil, "secret NAME=VALUE, or NAME to pass yours (repeatable; never printed)")
	f.StringVar(&o.overrides.JobRecovery, "job-recovery", "", "recovery strategy: EAGER_NEXT_REGION or FAILOVER")
	f.StringVar(&o.overrides.Workdir, "workdir", "", "working directory to sync to the job")
	f.Int64Var(&o.jobID, "job-id", 1, "managed job id the jobspec is for (its Nomad job is sky-<id>-<task>)")
	f.StringVar(&o.runnerPath, "runner-path", "skynomad", "path of the skynomad binary on the Nomad clients")
	return cmd
}

func (o *translateOptions) Complete(io IO, cmd *cobra.Command, args []string) error {
	o.file = args[0]
	o.ui = ui.New(io.Stdin, io.Stdout, io.Stderr)
	o.out = cmd.OutOrStdout()
	o.now = io.now()
	if cmd.Flags().Changed("use-spot") || cmd.Flags().Changed("no-use-spot") {
		v := o.useSpot || !o.noUseSpot
		o.overrides.UseSpot = &v
	}
	lookup := func(name string) (string, bool) {
		v := io.Getenv(name)
		return v, v != ""
	}
	if o.envFile != "" {
		vars, err := translator.ParseEnvFile(o.envFile)
		if err != nil {
			return err
		}
		o.load.Env = append(o.load.Env, vars...)
	}
	for _, e := range o.envs {
		v, err := translator.ParseEnvFlag(e, lookup)
		if err != nil {
			return err
		}
		o.load.Env = append(o.load.Env, v)
	}
	for _, e := range o.secrets {
		v, err := translator.ParseSecretFlag(e, lookup)
		if err != nil {
			return err
		}
		o.load.Secrets = append(o.load.Secrets, v)
	}
	o.load.Overrides = o.overrides
	o.load.Warn = func(msg string) { o.ui.Warn("%s", msg) }
	return nil
}

func (o *translateOptions) Validate() error {
	if o.output != translator.FormatHCL && o.output != translator.FormatJSON {
		return fmt.Errorf("-o %s: want hcl or json", o.output)
	}
	if o.useSpot && o.noUseSpot {
		return errors.New("--use-spot and --no-use-spot exclude each other")
	}
	if o.jobID < 1 {
		return fmt.Errorf("--job-id %d: want at least 1", o.jobID)
	}
	return nil
}

func (o *translateOptions) Run() error {
	dag, err := translator.LoadFile(o.file, o.load)
	if err != nil {
		return err
	}
	cat := catalog.Default()
	if wantsThisHost(dag) {
		local, err := catalog.Local()
		if err != nil {
			return err
		}
		cat = cat.With(local)
	}
	ts, err := translator.Translate(dag, translator.TranslateOptions{
		JobID:     o.jobID,
		Submitted: o.now,
		Catalog:   cat,
		Render:    translator.RenderOptions{RunnerPath: o.runnerPath},
	})
	if err != nil {
		return err
	}
	for _, t := range ts {
		if pending := t.Job.Meta["sky.unsupported_mounts"]; pending != "" {
			o.ui.Warn("task %d (%s): not in the jobspec yet (needs the job-files bucket): %s",
				t.Attempt.Ref.Task, t.Attempt.Task.Name, pending)
		}
	}
	return translator.WriteJobspecs(o.out, ts, o.output)
}

// wantsThisHost: a task asking for infra local is planned on this host
// (on Nomad: any node, no node class). Otherwise this host, which costs
// nothing, would win every plan, and translate shows cloud placements.
func wantsThisHost(dag *task.DAG) bool {
	for _, t := range dag.Tasks {
		for _, c := range append([]task.Resources{t.Resources}, t.Candidates...) {
			if c.Infra.Cloud == catalog.LocalCloud {
				return true
			}
		}
	}
	return false
}
