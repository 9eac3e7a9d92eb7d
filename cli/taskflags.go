package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
)

// taskFlags are the flags that override a task YAML, shared by `jobs
// launch` and `translate` (the same flags as `sky jobs launch`).
type taskFlags struct {
	overrides translator.Overrides
	useSpot   bool
	noUseSpot bool
	envs      []string
	envFile   string
	secrets   []string
}

func (t *taskFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&t.overrides.Name, "name", "n", "", "name of the managed job (default: the YAML's name)")
	f.StringVar(&t.overrides.Infra, "infra", "", "where to run: cloud[/region[/zone]], e.g. aws/us-east-1")
	f.StringVar(&t.overrides.CPUs, "cpus", "", "vCPUs per node: 8 (exactly) or 8+ (at least)")
	f.StringVar(&t.overrides.Memory, "memory", "", "memory per node in GB: 32 or 32+")
	f.StringVar(&t.overrides.GPUs, "gpus", "", "accelerators per node, e.g. A100:8")
	f.StringVarP(&t.overrides.InstanceType, "instance-type", "t", "", "instance type, e.g. m6i.2xlarge")
	f.StringVar(&t.overrides.NumNodes, "num-nodes", "", "number of nodes")
	f.BoolVar(&t.useSpot, "use-spot", false, "run on spot instances")
	f.BoolVar(&t.noUseSpot, "no-use-spot", false, "run on on-demand instances")
	f.StringVar(&t.overrides.ImageID, "image-id", "", "image to run, e.g. docker:python:3.12-slim")
	f.StringVar(&t.overrides.DiskSize, "disk-size", "", "OS disk size in GB")
	f.StringArrayVar(&t.envs, "env", nil, "environment variable NAME=VALUE, or NAME to pass yours (repeatable)")
	f.StringVar(&t.envFile, "env-file", "", "dotenv file of environment variables")
	f.StringArrayVar(&t.secrets, "secret", nil, "secret NAME=VALUE, or NAME to pass yours (repeatable; never printed)")
	f.StringVar(&t.overrides.JobRecovery, "job-recovery", "", "recovery strategy: EAGER_NEXT_REGION or FAILOVER")
	f.StringVar(&t.overrides.Workdir, "workdir", "", "working directory to sync to the job")
}

func (t *taskFlags) validate() error {
	if t.useSpot && t.noUseSpot {
		return errors.New("--use-spot and --no-use-spot exclude each other")
	}
	return nil
}

// loadOptions turns the flags into the loader's options; a bare NAME in
// --env/--secret takes its value from getenv.
func (t *taskFlags) loadOptions(cmd *cobra.Command, getenv func(string) string, warn func(string)) (translator.LoadOptions, error) {
	load := translator.LoadOptions{Overrides: t.overrides, Warn: warn}
	// Relative paths in the task (workdir, file_mounts sources) and in
	// --workdir / --env-file are the caller's, as in SkyPilot: resolved and
	// checked here, before anything is submitted to a controller that may
	// run in another directory or on another machine.
	dir, err := os.Getwd()
	if err != nil {
		return load, fmt.Errorf("finding the current directory: %w", err)
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	load.LocalPaths = &translator.LocalPaths{Dir: dir, Home: home, Stat: os.Stat}
	if cmd.Flags().Changed("use-spot") || cmd.Flags().Changed("no-use-spot") {
		v := t.useSpot || !t.noUseSpot
		load.Overrides.UseSpot = &v
	}
	lookup := func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	}
	if t.envFile != "" {
		vars, err := translator.ParseEnvFile(t.envFile)
		if err != nil {
			return load, err
		}
		load.Env = append(load.Env, vars...)
	}
	for _, e := range t.envs {
		v, err := translator.ParseEnvFlag(e, lookup)
		if err != nil {
			return load, err
		}
		load.Env = append(load.Env, v)
	}
	for _, e := range t.secrets {
		v, err := translator.ParseSecretFlag(e, lookup)
		if err != nil {
			return load, err
		}
		load.Secrets = append(load.Secrets, v)
	}
	return load, nil
}

// taskFileOptions is what the commands that load a task file share: the
// session, the task flags, the file, and the load options they make.
type taskFileOptions struct {
	*session
	taskFlags
	file string
	// Set by complete.
	load translator.LoadOptions
}

// complete opens the session and turns the flags into load options whose
// warnings go to the terminal.
func (o *taskFileOptions) complete(io IO, cmd *cobra.Command, file string) error {
	s, err := newSession(io)
	if err != nil {
		return err
	}
	o.session, o.file = s, file
	o.load, err = o.loadOptions(cmd, io.Getenv, func(msg string) { o.ui.Warn("%s", msg) })
	return err
}

// filesError is the located error of the first problem the controller
// found with the task file's files (the job-files bucket, bucket mounts),
// or nil: the file is loaded again with the problems placed on the
// fields that ask for the files.
func filesError(file string, load translator.LoadOptions, plan *api.PlanResponse) error {
	byTask := map[string][]translator.FilesProblem{}
	for _, tp := range plan.Tasks {
		for _, p := range tp.Files {
			byTask[tp.Task] = append(byTask[tp.Task], translator.FilesProblem{Mount: p.Mount, Msg: p.Msg, Accepted: p.Accepted})
		}
	}
	if len(byTask) == 0 {
		return nil
	}
	load.CheckFiles = func(t task.Task) []translator.FilesProblem { return byTask[t.Name] }
	if err := reload(file, load); err != nil {
		return err
	}
	for name, ps := range byTask { // a task the reload did not place: at the file's top
		return &translator.Error{File: file, Line: 1, Col: 1, Field: "task " + name, Msg: ps[0].Msg, Accepted: ps[0].Accepted}
	}
	return nil
}

// planError is the plan's refusal of a task, placed at that task's
// resources in the file (loaded again), or nil when every task fits.
func planError(file string, load translator.LoadOptions, plan *api.PlanResponse) error {
	why := map[string]string{}
	for _, tp := range plan.Tasks {
		if s := plan.Refusal(tp); s != "" {
			why[tp.Task] = s
		}
	}
	if len(why) == 0 {
		return nil
	}
	load.CheckResources = func(t task.Task) string { return why[t.Name] }
	if err := reload(file, load); err != nil {
		return err
	}
	return plan.Infeasible() // a task the reload did not place
}

// reload loads the task file again with what the controller found set in
// load's checks, so that the first finding is an error placed where the
// file asks for it; nil when none is placed.
func reload(file string, load translator.LoadOptions) error {
	load.Warn = nil // said once already
	_, err := translator.LoadFile(file, load)
	return err
}
