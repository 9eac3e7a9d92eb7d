package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/task"
)

// Template delimiters for everything skynomad renders from user text
// (scripts, env values). Nothing in bash or Python spells them, so user text
// passes through consul-template untouched (and escapeTemplate handles the
// day it does).
const (
	leftDelim  = "[[=skynomad:"
	rightDelim = ":skynomad=]]"
)

const (
	workdirAllocPath = "sky_workdir" // under the alloc dir
	envFilePath      = "local/skynomad.env"
	secretsFilePath  = "secrets/skynomad.env"

	defaultRunner      = "skynomad"
	defaultKillTimeout = 30 * time.Second
	defaultCPUMHz      = 1000
	defaultMemoryMB    = 1024
	// A pool worker holds its node by the pool's node class and the worker
	// port, not by resources: its tasks ask this nominal share, and the
	// jobs it runs get the node's resources. (The ask is Nomad's
	// bookkeeping; the skypilot driver sets no limit from it.)
	workerCPUMHz   = 100
	workerMemoryMB = 128
	// headroom is the share of an offering's memory or disk an attempt may
	// ask for: nodes report less than the instance's nominal size.
	headroom = 0.85
)

// Options configure RenderJob. The zero value is usable.
type Options struct {
	// TaskDriver runs the tasks: driver.PluginName ("skypilot", the
	// default) or "raw_exec", which runs RunnerPath.
	TaskDriver string
	// RunnerPath is the skynomad binary on the nodes under raw_exec
	// (default "skynomad").
	RunnerPath string
	// Datacenters defaults to ["*"] (every datacenter; Nomad 1.6 accepts
	// the wildcard).
	Datacenters []string
	Namespace   string
	Region      string
	// NodePool places every job in this Nomad node pool, which must exist.
	NodePool string
	// KillTimeout is how long Nomad waits after SIGTERM before SIGKILL
	// (default 30s). It must exceed the runner's own grace period.
	KillTimeout time.Duration
	// NoNodeClass places by node meta (sky.cloud, sky.region,
	// sky.instance_type, sky.capacity) instead of by the offering's node
	// class, for clusters whose nodes are not in skynomad's classes.
	NoNodeClass bool
	// Worker is where the worker runs that a job submitted to a pool
	// (Attempt.Worker set) must run beside. The Nomad engine looks it up
	// and sets it for each such launch; RenderJob refuses a pool job
	// without it.
	Worker *WorkerAlloc
	// VolumeType is the Nomad volume a task's named volume is: VolumeHost
	// (a client host_volume of that name, the default) or VolumeCSI.
	VolumeType string
}

// WorkerAlloc is where a pool worker's attempt runs: its alloc and that
// alloc's node.
type WorkerAlloc struct {
	AllocID string
	NodeID  string
}

func (o Options) withDefaults() Options {
	if o.TaskDriver == "" {
		o.TaskDriver = driver.PluginName
	}
	if o.RunnerPath == "" {
		o.RunnerPath = defaultRunner
	}
	if len(o.Datacenters) == 0 {
		o.Datacenters = []string{"*"}
	}
	if o.KillTimeout <= 0 {
		o.KillTimeout = defaultKillTimeout
	}
	return o
}

// RenderJob renders one attempt of one task as a Nomad batch job: group
// "main" with NumNodes allocations, an optional prestart task "setup" and the
// task "run", each running one phase under the skypilot task driver
// (driver/taskdriver; in the image for docker: images), or `skynomad
// driver --phase <phase>` under raw_exec when Options.TaskDriver says so
// (bash in the image for docker: images). Nomad neither restarts nor
// reschedules it: the controller decides.
//
// Worker pools (the Nomad engine's package doc has the whole picture):
//
//   - A pool's worker (Attempt.IsWorker: a task with a `pool:` block) is
//     such a job too, named <pool>-worker, with meta sky.pool and
//     sky.pool_worker: setup, then engine.WorkerRun holding the node. It
//     is placed on the pool's node class sky-pool-<pool> and reserves the
//     static port naming.PoolWorkerPort, so no node runs two workers. Its
//     tasks ask a nominal share of the node (workerCPUMHz,
//     workerMemoryMB) and no GPU: the node is for the jobs it runs.
//   - A job submitted to a pool (Attempt.Worker set) is pinned to its
//     worker's node (${node.unique.id}), skips setup and names the
//     worker's alloc in its run task's config (worker_alloc): the task
//     driver runs it in the worker's workdir with the worker's HOME.
//     Options.Worker says where the worker runs. Its own workdir and file
//     mounts are not fetched: it runs in its worker's.
//
// Files (the job-files bucket, bucket/node) reach the runner as the JSON
// variable node.EnvFiles in the env file: before setup it downloads the
// uploaded workdir and local file mounts and mounts or copies the bucket
// mounts. A git workdir is fetched by a Nomad artifact.
//
// Secrets and the stores' credentials (Attempt.FilesEnv) never appear in
// the job: the engine writes them to the Nomad Variable
// naming.SecretsVariable(job ID) and a template renders them into the
// tasks' environment.
func RenderJob(a *engine.Attempt, opts Options) (*api.Job, error) {
	o := opts.withDefaults()
	r := renderer{a: a, o: o}
	switch {
	case a.IsWorker() && r.poolName() == "":
		return nil, fmt.Errorf("render pool worker %s: the pool has no name", a.Ref)
	case a.Worker != nil && a.Pool == "":
		return nil, fmt.Errorf("render %s: it names a pool worker (%s) but no pool", a.Ref, *a.Worker)
	case a.Pool != "" && !a.IsWorker() && a.Worker == nil:
		return nil, fmt.Errorf("render %s on pool %s: it names no worker to run beside", a.Ref, a.Pool)
	case a.Worker != nil && (o.Worker == nil || o.Worker.AllocID == "" || o.Worker.NodeID == ""):
		return nil, fmt.Errorf("render %s on pool %s: where its worker (%s) runs is not known", a.Ref, a.Pool, *a.Worker)
	case a.Worker != nil && o.TaskDriver != driver.PluginName && a.Task.Resources.DockerImage() != "":
		return nil, fmt.Errorf("render %s on pool %s: a job in an image runs in its worker's directory only under the %s task driver, not %s",
			a.Ref, a.Pool, driver.PluginName, o.TaskDriver)
	case !a.Files.Empty() && o.TaskDriver != driver.PluginName && a.Task.Resources.DockerImage() != "":
		// Nothing in the image would fetch them: refused, not dropped.
		return nil, engine.Infeasible("a task in an image (%s) gets its workdir, file mounts and buckets only under the %s task driver "+
			"(its runner fetches them inside the image); under %s nothing would fetch them", a.Task.Resources.ImageID, driver.PluginName, o.TaskDriver)
	}
	return r.job()
}

type renderer struct {
	a *engine.Attempt
	o Options
}

// jobID is the ID of the job being rendered: every attempt's, a pool
// worker's included, is naming.JobID, by which the engine finds it.
func (r renderer) jobID() string {
	return naming.JobID(r.a.Ref.JobID, r.a.Ref.Task)
}

// poolName is the pool of a worker: the attempt's pool, else the job's
// name (a pool file translated alone).
func (r renderer) poolName() string {
	if r.a.Pool != "" {
		return r.a.Pool
	}
	return r.a.JobName
}

func (r renderer) job() (*api.Job, error) {
	a := r.a
	id := r.jobID()
	worker := a.IsWorker()

	job := r.skeleton(id, "batch")
	job.Meta = map[string]string{
		naming.MetaJobID:    strconv.FormatInt(a.Ref.JobID, 10),
		naming.MetaTask:     strconv.Itoa(a.Ref.Task),
		naming.MetaTaskName: a.Task.Name,
		naming.MetaAttempt:  strconv.Itoa(a.Ref.Attempt),
		naming.MetaJobName:  a.JobName,
		naming.MetaPipeline: strconv.FormatBool(a.Pipeline),
		naming.MetaCapacity: a.Choice.Capacity(),
		naming.MetaOffering: a.Choice.NodeClass(),
	}
	switch {
	case worker:
		// The UI lists jobs by name: the pool's workers read as such.
		job.Name = new(r.poolName() + "-worker")
		job.Meta[naming.MetaPool] = r.poolName()
		job.Meta[naming.MetaPoolWorker] = "true"
	case a.Pool != "":
		job.Meta[naming.MetaPool] = a.Pool
	}

	if len(a.Members) == 0 {
		maps.Copy(job.Meta, r.capacityMeta())
		group, err := r.taskGroup(naming.GroupName)
		if err != nil {
			return nil, err
		}
		job.TaskGroups = []*api.TaskGroup{group}
		return job, nil
	}
	// A job group: one task group per task, started together.
	job.Meta[naming.MetaGroup] = a.Group
	job.Meta[naming.MetaTaskName] = a.Group
	for i, m := range a.Members {
		member := renderer{a: a.MemberView(i), o: r.o}
		group, err := member.taskGroup(m.Task.Name)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", m.Task.Name, err)
		}
		group.Meta = map[string]string{
			naming.MetaTaskName:         m.Task.Name,
			naming.MetaPrimary:          strconv.FormatBool(m.Primary),
			naming.MetaTerminationDelay: m.TerminationDelay.String(),
			naming.MetaOffering:         m.Choice.NodeClass(),
		}
		maps.Copy(group.Meta, member.capacityMeta())
		job.TaskGroups = append(job.TaskGroups, group)
	}
	return job, nil
}

// taskGroup renders the attempt's task as the task group name: its nodes
// (Count), placement, setup and run tasks.
func (r renderer) taskGroup(name string) (*api.TaskGroup, error) {
	a := r.a
	if err := infeasible(a.Task, r.o, a.Task.Resources.DockerImage() != ""); err != nil {
		return nil, err
	}
	nodes := max(a.Task.NumNodes, 1)
	worker := a.IsWorker()
	group := &api.TaskGroup{
		Name:             new(name),
		Count:            new(nodes),
		Constraints:      r.placement(),
		RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
	}
	if a.Worker == nil {
		// A pool's job runs in its worker's alloc dir, which asked for
		// the disk.
		group.EphemeralDisk = r.disk()
	}
	group.Volumes = r.groupVolumes()
	if nodes > 1 {
		group.Constraints = append(group.Constraints, &api.Constraint{Operand: api.ConstraintDistinctHosts})
	}
	if worker {
		group.Networks = []*api.NetworkResource{{
			ReservedPorts: []api.Port{{Label: naming.PoolWorkerPortLabel, Value: naming.PoolWorkerPort}},
		}}
	}

	env, err := r.envFile()
	if err != nil {
		return nil, err
	}
	if a.Task.Setup != "" && !a.SkipSetup {
		setup := r.task(engine.PhaseSetup, a.Task.Setup, env)
		setup.Lifecycle = &api.TaskLifecycle{Hook: api.TaskLifecycleHookPrestart}
		group.Tasks = append(group.Tasks, setup)
	}
	run := a.Task.Run
	if worker {
		run = engine.WorkerRun
	}
	group.Tasks = append(group.Tasks, r.task(engine.PhaseRun, run, env))
	// The alloc dir is shared: the first task fetches for both.
	group.Tasks[0].Artifacts = r.artifacts()
	if !worker {
		group.Tasks[len(group.Tasks)-1].Resources.Devices = r.devices()
	}

	return group, nil
}

func (r renderer) skeleton(id, kind string) *api.Job {
	job := &api.Job{
		ID:          new(id),
		Name:        new(id),
		Type:        new(kind),
		Priority:    new(nomadPriority(r.a.Task.Resources.Priority)),
		Datacenters: slices.Clone(r.o.Datacenters),
	}
	if r.o.Region != "" {
		job.Region = new(r.o.Region)
	}
	if r.o.Namespace != "" {
		job.Namespace = new(r.o.Namespace)
	}
	if r.o.NodePool != "" {
		job.NodePool = new(r.o.NodePool)
	}
	return job
}

// nomadPriority maps SkyPilot's priority (-1000..1000, 0 when unset) onto
// Nomad's job priority (1..100, 50 by default): 50 + p/20, rounded, so
// -1000 → 1, 0 → 50, 1000 → 100.
func nomadPriority(p int) int {
	n := 50 + int(math.Round(float64(p)/20))
	return min(max(n, 1), 100)
}

// nodeMeta is the constraint target of a node meta key.
func nodeMeta(key string) string { return "${meta." + key + "}" }

// placement pins the attempt to its offering. The node class (one per
// cloud, region, instance type and capacity) is what reserves the VM; the
// resource ask only keeps Nomad's bookkeeping honest. A pool's workers and
// jobs use the pool's node class instead, which the pool's autoscaler
// policy keeps at the pool's size, and a pool's job also its worker's node.
// Without node classes (NoNodeClass) the offering's node meta places both;
// on this host's offering, any node does.
func (r renderer) placement() []*api.Constraint {
	a := r.a
	eq := func(attr, value string) *api.Constraint {
		return &api.Constraint{LTarget: attr, RTarget: value, Operand: "="}
	}
	var out []*api.Constraint
	if a.Worker != nil {
		out = append(out, eq("${node.unique.id}", r.o.Worker.NodeID))
	}
	switch {
	case a.Choice.Offering.Cloud == "local":
		// This host, or any node of a cluster standing in for it.
	case r.o.NoNodeClass:
		out = append(out,
			eq(nodeMeta(naming.NodeMetaCloud), a.Choice.Offering.Cloud),
			eq(nodeMeta(naming.NodeMetaRegion), a.Choice.Offering.Region),
			eq(nodeMeta(naming.NodeMetaInstanceType), a.Choice.Offering.InstanceType),
			eq(nodeMeta(naming.NodeMetaCapacity), a.Choice.Capacity()),
		)
	case a.IsWorker():
		out = append(out, eq("${node.class}", naming.PoolNodeClass(r.poolName())))
	case a.Worker != nil:
		out = append(out, eq("${node.class}", naming.PoolNodeClass(a.Pool)))
	default:
		out = append(out,
			eq("${node.class}", a.Choice.NodeClass()),
			eq(nodeMeta(naming.NodeMetaCapacity), a.Choice.Capacity()),
		)
	}
	return out
}

// resources is the ask of each task. The node class, not this ask, reserves
// the VM: memory is the request (or 1 GiB), never more than the offering
// can report free, and CPU a nominal 1000 MHz, since MHz per vCPU differ
// between instance types.
func (r renderer) resources() *api.Resources {
	if r.a.IsWorker() {
		return &api.Resources{CPU: new(workerCPUMHz), MemoryMB: new(workerMemoryMB)}
	}
	mem := defaultMemoryMB
	if m := r.a.Task.Resources.Memory; m != nil && m.Value > 0 {
		mem = int(math.Ceil(m.Value * 1024))
	}
	if gb := r.a.Choice.Offering.MemoryGB; gb > 0 {
		mem = min(mem, int(gb*1024*headroom))
	}
	return &api.Resources{CPU: new(defaultCPUMHz), MemoryMB: new(mem)}
}

// disk asks for the task's disk_size (less headroom) as ephemeral disk, so
// a job wanting a big disk is not placed on a node of the same class with a
// small one. Not on this host: its disk is what it is.
func (r renderer) disk() *api.EphemeralDisk {
	gb := r.a.Task.Resources.DiskSizeGB
	if gb <= 0 || r.a.Choice.Offering.Cloud == "local" {
		return nil
	}
	return &api.EphemeralDisk{SizeMB: new(int(float64(gb) * 1024 * headroom))}
}

// devices asks for the task's GPUs. Only the run task gets them: Nomad
// assigns devices per task, and setup and run would need twice the GPUs.
func (r renderer) devices() []*api.RequestedDevice {
	acc := r.a.Task.Resources.Accelerators
	if len(acc) == 0 || strings.HasPrefix(strings.ToLower(acc[0].Name), "tpu") {
		return nil
	}
	return []*api.RequestedDevice{{
		Name:  "nvidia/gpu",
		Count: new(uint64(r.a.Task.Resources.GPUsPerNode())),
		Constraints: []*api.Constraint{{
			LTarget: "${device.model}",
			RTarget: gpuModelPattern(acc[0].Name),
			Operand: api.ConstraintRegex,
		}},
	}}
}

// gpuModelPattern matches the model name Nomad's nvidia plugin reports
// ("NVIDIA A100-SXM4-80GB", "Tesla T4", "NVIDIA L4") for a SkyPilot
// accelerator name: each dash-separated part as a whole word, in order, so
// "L4" does not match "L40S" and "A100-80GB" does not match a 40GB card.
func gpuModelPattern(name string) string {
	parts := strings.Split(name, "-")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return `(?i)\b` + strings.Join(parts, `\b.*\b`) + `\b`
}

// task renders one phase's task.
func (r renderer) task(phase engine.Phase, script string, env *api.Template) *api.Task {
	name, fileVar, fileKey := naming.RunTaskName, driver.EnvRunFile, driver.ConfigRunFile
	if phase == engine.PhaseSetup {
		name, fileVar, fileKey = naming.SetupTaskName, driver.EnvSetupFile, driver.ConfigSetupFile
	}
	file := string(phase) + ".sh"
	t := &api.Task{
		Name:        name,
		Resources:   r.resources(),
		KillTimeout: new(r.o.KillTimeout),
		KillSignal:  "SIGTERM",
		Templates: []*api.Template{{
			EmbeddedTmpl: new(escapeTemplate(script)),
			DestPath:     new("local/" + file),
			Perms:        new("0755"),
			ChangeMode:   new("noop"),
			LeftDelim:    new(leftDelim),
			RightDelim:   new(rightDelim),
		}},
	}
	t.VolumeMounts = r.volumeMounts()
	workdir := "${NOMAD_ALLOC_DIR}/" + workdirAllocPath
	image := r.a.Task.Resources.DockerImage()
	switch {
	case r.o.TaskDriver == driver.PluginName:
		t.Driver = driver.PluginName
		t.Config = map[string]any{
			driver.ConfigPhase:       string(phase),
			fileKey:                  "local/" + file,
			driver.ConfigTaskName:    r.a.Task.Name,
			driver.ConfigNumNodes:    max(r.a.Task.NumNodes, 1),
			driver.ConfigWorkdir:     workdir,
			driver.ConfigClusterInfo: r.clusterInfo(),
		}
		if image != "" {
			t.Config[driver.ConfigImage] = image
			maps.Copy(t.Config, dockerSettings(r.a.Task.Docker, t.Driver))
		}
		if r.a.Worker != nil {
			// The plugin takes the workdir, which is under this alloc's
			// dir, from the worker's alloc dir instead.
			t.Config[driver.ConfigWorkerAlloc] = r.o.Worker.AllocID
		}
	case image != "":
		// The runner is not in the image: bash runs the script itself, so
		// there are no (task, pid=N) prefixes, no phase markers and no
		// per-node SKYPILOT_NODE_RANK / SKYPILOT_NODE_IPS.
		t.Driver = "docker"
		t.Config = map[string]any{
			"image":   image,
			"command": "/bin/bash",
			"args":    []any{"${NOMAD_TASK_DIR}/" + file},
		}
		if r.a.Task.Workdir != nil {
			t.Config["work_dir"] = workdir
		}
		maps.Copy(t.Config, dockerSettings(r.a.Task.Docker, t.Driver))
	default:
		if r.a.Worker != nil {
			// raw_exec sees the host's paths: the worker's alloc dir is a
			// sibling of this one. (HOME is the client's user's, as the
			// worker's.)
			workdir = "${NOMAD_ALLOC_DIR}/../../" + r.o.Worker.AllocID + "/alloc/" + workdirAllocPath
		}
		t.Driver = "raw_exec"
		t.Config = map[string]any{
			"command": r.o.RunnerPath,
			"args":    []any{"driver", "--phase", string(phase)},
		}
		t.Env = map[string]string{
			fileVar:               "${NOMAD_TASK_DIR}/" + file,
			driver.EnvTaskName:    r.a.Task.Name,
			driver.EnvNumNodes:    strconv.Itoa(max(r.a.Task.NumNodes, 1)),
			driver.EnvWorkdir:     workdir,
			driver.EnvClusterInfo: r.clusterInfo(),
		}
	}
	if env != nil {
		own := *env // tasks do not share what api.Job.Canonicalize mutates
		t.Templates = append(t.Templates, &own)
	}
	if len(r.a.Secrets)+len(r.a.FilesEnv) > 0 {
		t.Templates = append(t.Templates, r.secretsTemplate())
	}
	return t
}

// clusterInfo is SKYPILOT_CLUSTER_INFO as far as the job knows it; the
// runner fills in the zone from the node.
func (r renderer) clusterInfo() string {
	info := struct {
		ClusterName string  `json:"cluster_name"`
		Cloud       string  `json:"cloud"`
		Region      string  `json:"region"`
		Zone        *string `json:"zone"`
	}{
		ClusterName: r.jobID(),
		Cloud:       r.a.Choice.Offering.Cloud,
		Region:      r.a.Choice.Offering.Region,
	}
	b, _ := json.Marshal(info) // cannot fail: strings only
	return string(b)
}

// secretsTemplate renders the job's Nomad Variable as an env file. Values
// are quoted with Go's %q, which Nomad's env-file parser reads back for any
// value without control characters other than newline and tab.
func (r renderer) secretsTemplate() *api.Template {
	path := naming.SecretsVariable(r.jobID())
	data := `{{ with nomadVar "` + path + `" }}{{ range .Tuples }}{{ .K }}={{ .V | printf "%q" }}` + "\n" + `{{ end }}{{ end }}`
	return &api.Template{
		EmbeddedTmpl: new(data),
		DestPath:     new(secretsFilePath),
		Envvars:      new(true),
		ChangeMode:   new("noop"),
	}
}

// envFile passes the attempt's environment (SKYPILOT_* and the task's envs)
// through an env-file template rather than the task's env block: Nomad
// interpolates ${...} in env-block values, not in template env files, so a
// value like "a${b}" reaches the task unchanged.
func (r renderer) envFile() (*api.Template, error) {
	vars := r.a.Env
	if env := r.dockerEnv(); len(env) > 0 {
		vars = append(slices.Clip(env), vars...)
	}
	if !r.a.Files.Empty() {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // job-<runid> stays readable
		if err := enc.Encode(r.a.Files); err != nil {
			return nil, fmt.Errorf("render files: %w", err)
		}
		vars = append(vars[:len(vars):len(vars)], task.EnvVar{Name: node.EnvFiles, Value: strings.TrimSuffix(b.String(), "\n")})
	}
	if r.a.Group != "" && !r.a.Isolated {
		vars = append(vars[:len(vars):len(vars)], task.EnvVar{Name: driver.EnvGroup, Value: r.a.Group})
	}
	if len(vars) == 0 {
		return nil, nil
	}
	var b strings.Builder
	for _, v := range vars {
		q, err := envFileQuote(v.Value)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", v.Name, err)
		}
		b.WriteString(v.Name + "=" + q + "\n")
	}
	return &api.Template{
		EmbeddedTmpl: new(escapeTemplate(b.String())),
		DestPath:     new(envFilePath),
		Envvars:      new(true),
		ChangeMode:   new("noop"),
		LeftDelim:    new(leftDelim),
		RightDelim:   new(rightDelim),
	}, nil
}

// envFileQuote double-quotes v for Nomad's env-file parser, which knows the
// escapes \\ \" \n \t and refuses every other control character.
func envFileQuote(v string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			return "", fmt.Errorf("value holds control character %U, which a Nomad env file cannot carry", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// escapeTemplate makes text render as itself under skynomad's delimiters:
// each left delimiter becomes an action printing it.
func escapeTemplate(text string) string {
	return strings.ReplaceAll(text, leftDelim, leftDelim+` "`+leftDelim+`" `+rightDelim)
}

// artifacts fetches a git workdir; everything else the runner fetches
// (Files). A job on a pool's workers runs in its worker's workdir.
func (r renderer) artifacts() []*api.TaskArtifact {
	w := r.a.Task.Workdir
	if r.a.Worker != nil || w == nil || w.GitURL == "" {
		return nil
	}
	return []*api.TaskArtifact{{
		GetterSource: new(gitSource(w.GitURL, w.GitRef)),
		RelativeDest: new("../alloc/" + workdirAllocPath),
	}}
}

func gitSource(url, ref string) string {
	src := url
	if !strings.HasPrefix(src, "git::") {
		src = "git::" + src
	}
	if ref == "" {
		return src
	}
	sep := "?"
	if strings.Contains(src, "?") {
		sep = "&"
	}
	return src + sep + "ref=" + ref
}
