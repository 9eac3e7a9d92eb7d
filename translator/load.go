// Package translator turns SkyPilot task YAML into skynomad's typed task
// model (package task). Rendering an attempt for Nomad is the Nomad
// engine's business (engine/nomad/render); this package knows nothing of
// engines.
//
// The loader (load*.go) reads a single task, a pipeline (multi-document
// YAML) or a pool file, applies `jobs launch` overrides (overrides.go), and
// normalises every field of the SkyPilot task schema; each problem it finds
// is an *Error naming the file, line, column, field and what is accepted.
// It reads only the files it is given and never prints.
package translator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// LoadOptions are what `jobs launch` adds to a task file.
type LoadOptions struct {
	// Env holds --env-file then --env values, in order; a later value wins.
	// They override the file's envs, fill envs declared without a value and
	// add new ones, in every task of a pipeline.
	Env []task.EnvVar
	// Secrets holds --secret values, applied like Env to `secrets`.
	Secrets []task.EnvVar
	// Overrides are the resource and naming flags.
	Overrides Overrides
	// Warn receives located warnings (e.g. `run` ignored in a pool file).
	Warn func(string)
	// LocalPaths resolves (and, with Stat, checks) the local paths the task
	// names. Nil leaves them as written.
	LocalPaths *LocalPaths
	// PoolJob, when set, loads the file as a job submitted to that pool
	// (`jobs launch --pool`): it keeps its run; its setup, workdir,
	// file_mounts and pool: block are ignored with a warning; its resources
	// must fit a worker of the pool.
	PoolJob *PoolJob
	// CheckFiles, when set, is asked about each task's files once its
	// local paths are resolved (can the job-files bucket store them, do
	// the bucket mounts' buckets exist); the first problem it names is an
	// error placed at the task's workdir or at the file mount.
	CheckFiles func(t task.Task) []FilesProblem
	// CheckResources, when set, is asked about each task once it is read
	// (can anything run it); what it says is an error placed at the
	// task's resources.
	CheckResources func(t task.Task) string
}

// FilesProblem is why a task's files cannot be had.
type FilesProblem struct {
	// Mount is the index of the file mount, or -1 for the workdir.
	Mount    int
	Msg      string
	Accepted string
}

// PoolJob is the pool a job is submitted to.
type PoolJob struct {
	Name string
	// Misfit says why a resource request does not fit a worker of the pool
	// ("" when it fits).
	Misfit func(task.Resources) string
	// Worker describes a worker, for the message of a request that does not
	// fit ("AWS m6i.2xlarge in us-east-1: 8 vCPUs, 32 GB").
	Worker string
}

// LoadFile reads and loads the task file at path.
func LoadFile(path string, opts LoadOptions) (*task.DAG, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load task file: %w", err)
	}
	return Load(path, data, opts)
}

// Load loads a task file's contents; name is used in messages and as
// DAG.SourceFile. Every error it returns is an *Error.
func Load(name string, data []byte, opts LoadOptions) (*task.DAG, error) {
	// Warnings are said once the file loads: a refused file shows its
	// error alone.
	var warnings []string
	d := &taskDecoder{file: name, warn: func(s string) { warnings = append(warnings, s) }}
	docs, err := d.documents(data)
	if err != nil {
		return nil, err
	}
	dag, err := d.dag(docs, &opts)
	if err != nil {
		return nil, err
	}
	dag.SourceFile = name
	if opts.Warn != nil {
		for _, w := range warnings {
			opts.Warn(w)
		}
	}
	return dag, nil
}

// documents parses every YAML document and drops empty ones.
func (d *taskDecoder) documents(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		// yaml.v3 is third-party code fed untrusted input: a panic in it
		// becomes a parse error rather than a crash.
		if r := recover(); r != nil {
			docs, err = nil, &Error{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("not valid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, syntaxError(d.file, err)
		}
		if len(doc.Content) == 0 || isNullNode(doc.Content[0]) {
			continue
		}
		root := doc.Content[0]
		if unalias(root).Kind != yaml.MappingNode {
			return nil, d.errorAt(root, "", "a task document must be a mapping of fields, got %s", describeNode(root))
		}
		docs = append(docs, root)
	}
}

// dag builds the DAG: one task, or a pipeline whose first document may be
// a header naming it.
func (d *taskDecoder) dag(docs []*yaml.Node, opts *LoadOptions) (*task.DAG, error) {
	if len(docs) == 0 {
		return nil, d.errorAt(nil, "", "the file holds no task")
	}
	if err := opts.Overrides.validate(); err != nil {
		return nil, err
	}
	dag := &task.DAG{Pipeline: len(docs) > 1}
	header, err := d.header(docs[0])
	if err != nil {
		return nil, err
	}
	if header != nil {
		dag.Name = header.name
		dag.Group = header.group
		dag.Pipeline = dag.Pipeline && header.group == nil
		docs = docs[1:]
	}
	if len(docs) > 1 {
		if err := opts.Overrides.checkPipeline(d.file); err != nil {
			return nil, err
		}
	}
	named := make([]bool, 0, len(docs))
	tds := make([]taskDoc, 0, len(docs))
	for _, doc := range docs {
		td, err := d.task(doc, opts)
		if err != nil {
			return nil, err
		}
		if td.t.Pool != nil && dag.Pipeline && dag.Group == nil {
			return nil, d.errorAt(td.poolKey, "pool", "a pool file must hold a single task, not a pipeline")
		}
		named = append(named, td.t.Name != "")
		dag.Tasks = append(dag.Tasks, td.t)
		tds = append(tds, *td)
	}
	if dag.Group != nil {
		if len(tds) == 0 {
			return nil, d.errorAt(header.doc, "", "job group %s has no task", header.name).
				accepting("one document per task after this header, separated by ---")
		}
		if err := d.checkGroup(header, docs, tds); err != nil {
			return nil, err
		}
		if opts.Overrides.Name != "" {
			dag.Name = opts.Overrides.Name
		}
		return dag, nil
	}
	if len(dag.Tasks) == 0 {
		// A header alone still makes one (empty) task, as in SkyPilot.
		dag.Tasks = []task.Task{emptyTask()}
		named = []bool{false}
	}
	d.nameTasks(dag, named, opts.Overrides.Name)
	return dag, nil
}

// namePattern is SkyPilot's task and pipeline name pattern.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[._-]{1,2}[a-zA-Z0-9]+)*$`)

const nameAccepted = "letters and digits, joined by up to two of . _ - (pattern [a-zA-Z0-9]+(?:[._-]{1,2}[a-zA-Z0-9]+)*)"

// name reads a task or pipeline name; null is no name.
func (d *taskDecoder) name(n *yaml.Node, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil || s == "" && isNullNode(n) {
		return "", err
	}
	if !namePattern.MatchString(s) {
		return "", d.errorAt(unalias(n), path, "%q is not a valid name", s).accepting(nameAccepted)
	}
	return s, nil
}

// nameTasks fills the pipeline's and the tasks' names as SkyPilot does: a
// single task and its DAG share one name; unnamed pipeline tasks are called
// <pipeline>-<index>. With no name anywhere the file's base name is used.
func (d *taskDecoder) nameTasks(dag *task.DAG, named []bool, override string) {
	if override != "" {
		dag.Name = override
	}
	if len(dag.Tasks) == 1 {
		if dag.Name == "" {
			dag.Name = dag.Tasks[0].Name
		}
		if dag.Name == "" {
			dag.Name = nameFromFile(d.file)
		}
		dag.Tasks[0].Name = dag.Name
		return
	}
	if dag.Name == "" {
		dag.Name = nameFromFile(d.file)
	}
	for i := range dag.Tasks {
		if !named[i] {
			dag.Tasks[i].Name = fmt.Sprintf("%s-%d", dag.Name, i)
		}
	}
}

// notName matches the runs of characters a name may not hold.
var notName = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// nameFromFile derives a valid name from a file name ("my job.yaml" → "my-job").
func nameFromFile(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	base = strings.Trim(notName.ReplaceAllString(base, "-"), "-")
	if !namePattern.MatchString(base) {
		return "task"
	}
	return base
}
