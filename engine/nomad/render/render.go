package render

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/task"
)

// envMounts is a JSON list of {"dest","alloc_path"}: bucket contents the
// job downloaded into the alloc dir, to be linked at dest by the runner
// (which does not read it yet; when it does, the name belongs with the
// runner's other variables, driver.Env*).
const envMounts = "SKYNOMAD_MOUNTS"

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
	mountsAllocPath  = "sky_mounts"  // under the alloc dir, one dir per mount
	envFilePath      = "local/skynomad.env"
	secretsFilePath  = "secrets/skynomad.env"

	defaultRunner      = "skynomad"
	defaultKillTimeout = 30 * time.Second
	defaultCPUMHz      = 1000
	defaultMemoryMB    = 1024
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
// An attempt whose task has a `pool:` block renders the pool's worker job
// instead: a sysbatch job that runs setup once on every node of class
// sky-pool-<pool>. The number of workers is the autoscaler's business (the
// class's policy); the job records it in meta sky.pool_workers.
//
// Not rendered yet, pending the job-files bucket (bucket/): a local workdir,
// local file mounts and bucket mounts in MOUNT / MOUNT_CACHED mode. They are
// listed in meta sky.unsupported_mounts (Undelivered). Git workdirs and s3:// or gs://
// sources copied with mode COPY are fetched by Nomad artifacts.
//
// Secrets never appear in the job: the engine writes them to the Nomad
// Variable naming.SecretsVariable(job ID) and a template renders them into
// the tasks' environment.
func RenderJob(a *engine.Attempt, opts Options) (*api.Job, error) {
	o := opts.withDefaults()
	r := renderer{a: a, o: o}
	if a.Task.Pool != nil {
		return r.poolJob()
	}
	return r.job()
}

type renderer struct {
	a *engine.Attempt
	o Options
}

// jobID is the ID of the job being rendered.
func (r renderer) jobID() string {
	if r.a.Task.Pool != nil {
		return naming.PoolJobID(r.poolName())
	}
	return naming.JobID(r.a.Ref.JobID, r.a.Ref.Task)
}

// poolName names a pool's worker job: the attempt's pool, else the job's
// name.
func (r renderer) poolName() string {
	if r.a.Pool != "" {
		return r.a.Pool
	}
	return r.a.JobName
}

func (r renderer) job() (*api.Job, error) {
	a := r.a
	id := r.jobID()
	nodes := max(a.Task.NumNodes, 1)

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
	if a.Pool != "" {
		job.Meta[naming.MetaPool] = a.Pool
	}

	group := &api.TaskGroup{
		Name:             new(naming.GroupName),
		Count:            new(nodes),
		Constraints:      r.placement(),
		RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
		EphemeralDisk:    r.disk(),
	}
	if nodes > 1 {
		group.Constraints = append(group.Constraints, &api.Constraint{Operand: api.ConstraintDistinctHosts})
	}

	fetch := r.fetches(!a.SkipSetup)
	if pending := undelivered(a.Task, !a.SkipSetup); len(pending) > 0 {
		job.Meta[naming.MetaUnsupportedMounts] = strings.Join(pending, "; ")
	}
	env, err := r.envFile(fetch)
	if err != nil {
		return nil, err
	}
	if a.Task.Setup != "" && !a.SkipSetup {
		setup := r.task(engine.PhaseSetup, a.Task.Setup, env)
		setup.Lifecycle = &api.TaskLifecycle{Hook: api.TaskLifecycleHookPrestart}
		group.Tasks = append(group.Tasks, setup)
	}
	group.Tasks = append(group.Tasks, r.task(engine.PhaseRun, a.Task.Run, env))
	// The alloc dir is shared: the first task fetches for both.
	group.Tasks[0].Artifacts = fetch.artifacts
	group.Tasks[len(group.Tasks)-1].Resources.Devices = r.devices()

	job.TaskGroups = []*api.TaskGroup{group}
	return job, nil
}

func (r renderer) poolJob() (*api.Job, error) {
	a := r.a
	pool := r.poolName()
	if pool == "" {
		return nil, fmt.Errorf("render pool job: the pool has no name")
	}
	job := r.skeleton(r.jobID(), "sysbatch")
	job.Meta = map[string]string{
		naming.MetaPool:        pool,
		naming.MetaPoolWorkers: poolSize(*a.Task.Pool),
		naming.MetaCapacity:    a.Choice.Capacity(),
		naming.MetaOffering:    a.Choice.NodeClass(),
	}
	fetch := r.fetches(true)
	if pending := undelivered(a.Task, true); len(pending) > 0 {
		job.Meta[naming.MetaUnsupportedMounts] = strings.Join(pending, "; ")
	}
	env, err := r.envFile(fetch)
	if err != nil {
		return nil, err
	}
	setup := r.task(engine.PhaseSetup, a.Task.Setup, env)
	setup.Artifacts = fetch.artifacts
	job.TaskGroups = []*api.TaskGroup{{
		Name: new(naming.GroupName),
		Constraints: []*api.Constraint{
			{LTarget: "${node.class}", RTarget: naming.PoolNodeClass(pool), Operand: "="},
		},
		// sysbatch jobs take no reschedule policy.
		RestartPolicy: &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
		EphemeralDisk: r.disk(),
		Tasks:         []*api.Task{setup},
	}}
	return job, nil
}

// poolSize is "N" workers, or "MIN-MAX" for an autoscaled pool.
func poolSize(p task.PoolSpec) string {
	if p.Workers > 0 {
		return strconv.Itoa(p.Workers)
	}
	return fmt.Sprintf("%d-%d", p.MinWorkers, p.MaxWorkers)
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
// resource ask only keeps Nomad's bookkeeping honest.
func (r renderer) placement() []*api.Constraint {
	a := r.a
	eq := func(attr, value string) *api.Constraint {
		return &api.Constraint{LTarget: attr, RTarget: value, Operand: "="}
	}
	switch {
	case a.Pool != "":
		return []*api.Constraint{eq("${node.class}", naming.PoolNodeClass(a.Pool))}
	case a.Choice.Offering.Cloud == "local":
		// This host, or any node of a cluster standing in for it.
		return nil
	case r.o.NoNodeClass:
		return []*api.Constraint{
			eq(nodeMeta(naming.NodeMetaCloud), a.Choice.Offering.Cloud),
			eq(nodeMeta(naming.NodeMetaRegion), a.Choice.Offering.Region),
			eq(nodeMeta(naming.NodeMetaInstanceType), a.Choice.Offering.InstanceType),
			eq(nodeMeta(naming.NodeMetaCapacity), a.Choice.Capacity()),
		}
	default:
		return []*api.Constraint{
			eq("${node.class}", a.Choice.NodeClass()),
			eq(nodeMeta(naming.NodeMetaCapacity), a.Choice.Capacity()),
		}
	}
}

// resources is the ask of each task. The node class, not this ask, reserves
// the VM: memory is the request (or 1 GiB), never more than the offering
// can report free, and CPU a nominal 1000 MHz, since MHz per vCPU differ
// between instance types.
func (r renderer) resources() *api.Resources {
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
	default:
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
	if len(r.a.Secrets) > 0 {
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
func (r renderer) envFile(f fetchPlan) (*api.Template, error) {
	vars := r.a.Env
	if len(f.mounts) > 0 {
		b, err := json.Marshal(f.mounts)
		if err != nil {
			return nil, fmt.Errorf("render mounts: %w", err)
		}
		vars = append(vars[:len(vars):len(vars)], task.EnvVar{Name: envMounts, Value: string(b)})
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

// fetchPlan is what Nomad downloads into the alloc dir before the first
// task starts.
type fetchPlan struct {
	artifacts []*api.TaskArtifact
	mounts    []allocMount
}

// allocMount tells the runner to link a downloaded bucket at its dest.
type allocMount struct {
	Dest      string `json:"dest"`
	AllocPath string `json:"alloc_path"`
}

// fetches turns the workdir and (when withMounts) the file mounts into
// artifacts; what it cannot fetch yet, undelivered lists.
func (r renderer) fetches(withMounts bool) fetchPlan {
	var f fetchPlan
	if w := r.a.Task.Workdir; w != nil && w.GitURL != "" {
		f.artifacts = append(f.artifacts, &api.TaskArtifact{
			GetterSource: new(gitSource(w.GitURL, w.GitRef)),
			RelativeDest: new("../alloc/" + workdirAllocPath),
		})
	}
	if !withMounts {
		return f
	}
	for _, m := range r.a.Task.Mounts {
		src, ok := mountSource(m)
		if !ok {
			continue
		}
		dir := fmt.Sprintf("%s/%d", mountsAllocPath, len(f.mounts))
		f.artifacts = append(f.artifacts, &api.TaskArtifact{
			GetterSource: new(src),
			RelativeDest: new("../alloc/" + dir),
		})
		f.mounts = append(f.mounts, allocMount{Dest: m.Dest, AllocPath: dir})
	}
	return f
}

// Undelivered lists what of t a rendered job does not deliver to the task
// yet, pending the job-files bucket: a local workdir, local file mounts,
// and bucket mounts Nomad cannot copy (MOUNT, MOUNT_CACHED). The job
// records the list in meta sky.unsupported_mounts; the Nomad engine warns
// about it before a job is submitted.
func Undelivered(t task.Task) []string { return undelivered(t, true) }

// undelivered is Undelivered, leaving the file mounts out unless
// withMounts (a job on a pool's workers, which hold them already).
func undelivered(t task.Task, withMounts bool) []string {
	var out []string
	if w := t.Workdir; w != nil && w.GitURL == "" && w.Path != "" {
		out = append(out, "workdir "+w.Path)
	}
	if !withMounts {
		return out
	}
	for _, m := range t.Mounts {
		if _, ok := mountSource(m); !ok {
			out = append(out, describeMount(m))
		}
	}
	return out
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

const (
	s3Getter  = "s3::https://s3.amazonaws.com/"
	gcsGetter = "gcs::https://www.googleapis.com/storage/v1/"
)

// Go-getter sources for bucket URLs and for a bucket dict's store.
var (
	schemeGetters = map[string]string{"s3://": s3Getter, "gs://": gcsGetter}
	storeGetters  = map[string]string{"s3": s3Getter, "gcs": gcsGetter}
)

// mountSource is the artifact source of a mount Nomad can copy in COPY mode
// (the `DST: SRC` form copies): an s3:// or gs:// source, or a named bucket
// in S3 or GCS.
func mountSource(m task.Mount) (string, bool) {
	if m.Mode != "" && m.Mode != task.MountModeCopy {
		return "", false
	}
	for scheme, getter := range schemeGetters {
		if rest, ok := strings.CutPrefix(m.Source, scheme); ok {
			return getter + rest, true
		}
	}
	if getter, ok := storeGetters[m.Store]; ok && m.Source == "" && m.BucketName != "" {
		return getter + m.BucketName, true
	}
	return "", false
}

func describeMount(m task.Mount) string {
	mode := m.Mode
	if mode == "" {
		mode = task.MountModeCopy
	}
	from := m.Source
	if from == "" {
		from = "bucket " + m.BucketName
	}
	return fmt.Sprintf("%s (%s %s)", m.Dest, mode, from)
}
