package translator

import (
	"fmt"
	"math"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// taskDoc is one task document being decoded; the fields that need the
// whole document (resources, envs) are finished in task().
type taskDoc struct {
	t         task.Task
	resources *yaml.Node
	envs      []varDecl
	secrets   []varDecl
	runNode   *yaml.Node
	setupNode *yaml.Node
	poolKey   *yaml.Node
	// Where the workdir and each file mount were written, for errors
	// about the local paths they name.
	workdir at
	mounts  []at
	// files are the workdir and file mounts before $VAR substitution.
	files filesDecl
	// volumes are the volumes before $VAR substitution.
	volumes []volumeDoc
	// config is the task's `config:`, applied once resources are known.
	config *taskConfig
}

// varDecl is one envs/secrets entry as written.
type varDecl struct {
	task.EnvVar
	unset bool // declared without a value: must come from --env/--secret
	key   *yaml.Node
	path  string
}

// taskFields are the top-level keys of a task document.
var taskFields = fieldTable[taskDoc]{
	valueField("name", (*taskDecoder).name, func(td *taskDoc, s string) { td.t.Name = s }),
	{"workdir", decodeWorkdir},
	intField("num_nodes", 1, math.MaxInt32, func(td *taskDoc, v int) { td.t.NumNodes = v }),
	{"resources", func(_ *taskDecoder, p kv, td *taskDoc) error {
		td.resources = p.val // decoded in task(), once the pool is known
		return nil
	}},
	valueField("envs", (*taskDecoder).vars, func(td *taskDoc, v []varDecl) { td.envs = v }),
	valueField("secrets", (*taskDecoder).vars, func(td *taskDoc, v []varDecl) { td.secrets = v }),
	{"file_mounts", decodeMounts},
	{"setup", func(d *taskDecoder, p kv, td *taskDoc) (err error) {
		td.t.Setup, err = d.script(p.val, p.path)
		td.setupNode = p.val
		return err
	}},
	{"run", func(d *taskDecoder, p kv, td *taskDoc) (err error) {
		td.t.Run, err = d.script(p.val, p.path)
		td.runNode = p.val
		return err
	}},
	{"pool", decodePool},
	{"config", decodeConfig},
	unsupportedField[taskDoc]("service"),
	{"event_callback", decodeEventCallback},
	{"api_server_access", decodeAPIServerAccess},
	{"managed_secrets", decodeManagedSecrets},
	{"experimental", decodeExperimental},
	{"volumes", decodeVolumes},
	{"volume_mounts", decodeVolumeMounts},
	{"inputs", decodeDataEstimate},
	{"outputs", decodeDataEstimate},
}

// emptyTask is the task of a file that holds only a pipeline header.
func emptyTask() task.Task {
	t := task.Task{NumNodes: 1, Resources: task.Resources{JobRecovery: task.JobRecovery{Strategy: task.StrategyEagerNextRegion}}}
	t.Candidates = []task.Resources{t.Resources}
	return t
}

// task decodes one task document and applies the options to it.
func (d *taskDecoder) task(doc *yaml.Node, opts *LoadOptions) (*taskDoc, error) {
	td := &taskDoc{t: task.Task{NumNodes: 1}}
	if err := decodeMapping(d, doc, "", taskFields, td); err != nil {
		return nil, err
	}
	if err := d.taskOverrides(opts.Overrides, td); err != nil {
		return nil, err
	}
	var err error
	if td.t.Envs, err = d.resolveVars(td.envs, opts.Env, "--env", opts.Secrets, "--secret"); err != nil {
		return nil, err
	}
	if td.t.Secrets, err = d.resolveVars(td.secrets, opts.Secrets, "--secret", opts.Env, "--env"); err != nil {
		return nil, err
	}
	if err := d.expandFiles(td); err != nil {
		return nil, err
	}
	if err := d.expandVolumes(td); err != nil {
		return nil, err
	}
	if opts.PoolJob != nil {
		d.poolJob(td, opts.PoolJob)
	}
	if err := d.localPaths(td, opts.LocalPaths); err != nil {
		return nil, err
	}
	if opts.CheckFiles != nil {
		for _, p := range opts.CheckFiles(td.t) {
			where := td.workdir
			if p.Mount >= 0 && p.Mount < len(td.mounts) {
				where = td.mounts[p.Mount]
			}
			if where.val == nil && where.path == "" {
				where = at{val: doc, path: "file_mounts"}
			}
			return nil, d.errorAt(unalias(where.val), where.path, "%s", p.Msg).accepting(p.Accepted)
		}
	}

	pool := td.t.Pool != nil
	res, err := d.resources(td.resources, opts.Overrides.resourcePairs(), pool)
	if err != nil {
		return nil, err
	}
	td.t.Resources, td.t.Candidates, td.t.Ordered = res.base, res.candidates, res.ordered
	d.applyConfig(td)
	if pj := opts.PoolJob; pj != nil && pj.Misfit != nil {
		for i, cand := range td.t.Candidates {
			if why := pj.Misfit(cand); why != "" {
				what := "does not fit a worker of pool " + pj.Name
				if len(td.t.Candidates) > 1 {
					what = fmt.Sprintf("candidate %d %s", i, what)
				}
				n := td.resources
				if n == nil {
					n = doc
				}
				return nil, d.errorAt(n, "resources", "%s: %s", what, why).
					accepting("resources that a worker has (" + pj.Worker + "), or none: a pool job gets the whole worker")
			}
		}
	}
	if pool && td.t.Run != "" {
		d.warnAt(td.runNode, "run", "ignored in a pool file: workers only run setup; jobs submitted with --pool bring their own run")
		td.t.Run = ""
	}
	if opts.CheckResources != nil {
		if why := opts.CheckResources(td.t); why != "" {
			n := td.resources
			if n == nil {
				n = doc
			}
			return nil, d.errorAt(n, "resources", "%s", why)
		}
	}
	return td, nil
}

// poolJob drops what a job submitted to a pool does not use, naming each.
func (d *taskDecoder) poolJob(td *taskDoc, pj *PoolJob) {
	why := "ignored for a job submitted to pool " + pj.Name
	if td.t.Setup != "" {
		d.warnAt(td.setupNode, "setup", "%s: its workers ran the pool's setup; to change it, run jobs pool apply -p %s with the new setup", why, pj.Name)
		td.t.Setup = ""
	}
	if td.t.Workdir != nil {
		d.warnAt(td.workdir.val, "workdir", "%s: the job runs in its worker's workdir", why)
		td.t.Workdir = nil
	}
	if len(td.t.Mounts) > 0 {
		d.warnAt(td.mounts[0].val, "file_mounts", "%s: the job sees its worker's files", why)
		td.t.Mounts = nil
	}
	if td.t.Pool != nil {
		d.warnAt(td.poolKey, "pool", "%s: it sizes the pool in jobs pool apply", why)
		td.t.Pool = nil
	}
}

// envName is the pattern of env and secret names.
var envName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// vars reads `envs` or `secrets`. Keys and values are turned into strings
// as SkyPilot does (see load_yaml11.go): `DEBUG: yes` is "True".
func (d *taskDecoder) vars(n *yaml.Node, path string) ([]varDecl, error) {
	if isNullNode(n) {
		return nil, nil
	}
	ps, err := d.pairs(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]varDecl, 0, len(ps))
	for _, p := range ps {
		name := resolveScalar(p.key).text
		if !envName.MatchString(name) {
			return nil, d.errorAt(p.key, p.path, "%q is not a valid variable name", name).
				accepting("a letter or _, then letters, digits or _")
		}
		v := varDecl{EnvVar: task.EnvVar{Name: name}, key: p.key, path: p.path}
		if isNullNode(p.val) {
			v.unset = true
		} else if v.Value, err = d.text(p.val, p.path, "a string"); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// resolveVars applies command-line values over the declared ones (a later
// value wins; new names are appended) and refuses any left without a value.
// resolveVars applies the flag's overrides to decls. A declaration left
// without a value is an error, which says so when the value was given
// with the other flag (otherFlag: --secret for envs, --env for secrets).
func (d *taskDecoder) resolveVars(decls []varDecl, overrides []task.EnvVar, flag string, others []task.EnvVar, otherFlag string) ([]task.EnvVar, error) {
	index := make(map[string]int, len(decls))
	for i, v := range decls {
		index[v.Name] = i
	}
	for _, o := range overrides {
		if i, ok := index[o.Name]; ok {
			decls[i].Value, decls[i].unset = o.Value, false
			continue
		}
		index[o.Name] = len(decls)
		decls = append(decls, varDecl{EnvVar: o})
	}
	var out []task.EnvVar
	for _, v := range decls {
		if v.unset {
			e := d.errorAt(v.key, v.path, "has no value; give it one in the task file or with %s %s=VALUE", flag, v.Name)
			if slices.ContainsFunc(others, func(o task.EnvVar) bool { return o.Name == v.Name }) {
				e = d.errorAt(v.key, v.path, "has no value: it was given with %s, but the file declares it here, so it takes %s %s=VALUE", otherFlag, flag, v.Name)
			}
			return nil, e.accepting(`a string (use "" for empty)`)
		}
		out = append(out, v.EnvVar)
	}
	return out, nil
}

// poolFields are the keys of `pool:`.
var poolFields = fieldTable[task.PoolSpec]{
	intField("workers", 1, math.MaxInt32, func(p *task.PoolSpec, v int) { p.Workers = v }),
	intField("min_workers", 0, math.MaxInt32, func(p *task.PoolSpec, v int) { p.MinWorkers = v }),
	intField("max_workers", 1, math.MaxInt32, func(p *task.PoolSpec, v int) { p.MaxWorkers = v }),
}

// decodePool reads `pool: {workers | min_workers, max_workers}`.
func decodePool(d *taskDecoder, p kv, td *taskDoc) error {
	n, path := p.val, p.path
	ps, err := d.pairs(n, path)
	if err != nil {
		return err
	}
	var spec task.PoolSpec
	if err := poolFields.decodePairs(d, ps, &spec); err != nil {
		return err
	}
	m := unalias(n)
	switch {
	case len(ps) == 0:
		return d.errorAt(m, path, "a pool needs a size").accepting("workers, or min_workers and max_workers")
	case spec.Workers > 0 && len(ps) > 1:
		return d.errorAt(m, path, "give either workers or min_workers/max_workers, not both")
	case spec.MaxWorkers > 0 && spec.MaxWorkers < spec.MinWorkers:
		return d.errorAt(m, path+".max_workers", "%d is less than min_workers (%d)", spec.MaxWorkers, spec.MinWorkers)
	}
	td.t.Pool, td.poolKey = &spec, p.key
	return nil
}
