package translator

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// TranslateOptions say which job a DAG becomes and where it is planned.
type TranslateOptions struct {
	// JobID is the managed job's id (its Nomad jobs are sky-<id>-<task>).
	JobID int64
	// Submitted is the job's submission time, part of SKYPILOT_TASK_ID.
	Submitted time.Time
	// Catalog is what the optimizer plans over; Constraints narrow it.
	Catalog     *catalog.Catalog
	Constraints catalog.Constraints
	Render      RenderOptions
}

// Translation is one task's first attempt, planned and rendered.
type Translation struct {
	Attempt *engine.Attempt
	Job     *api.Job
}

// Translate plans every task of dag on its cheapest (or first preferred)
// choice and renders its first attempt, as the controller would launch it.
// A task nothing fits fails with the planner's *catalog.NoFitError.
func Translate(dag *task.DAG, opts TranslateOptions) ([]Translation, error) {
	out := make([]Translation, len(dag.Tasks))
	for i, t := range dag.Tasks {
		choices, err := opts.Catalog.Plan(t, opts.Constraints)
		if err != nil {
			return nil, fmt.Errorf("task %d (%s): %w", i, t.Name, err)
		}
		choice := choices[0]
		if choice.Candidate < len(t.Candidates) {
			t.Resources = t.Candidates[choice.Candidate]
		}
		secrets := t.Secrets
		t.Secrets = nil // only in Attempt.Secrets, as the controller does
		a := &engine.Attempt{
			Ref:      engine.Ref{JobID: opts.JobID, Task: i, Attempt: 1},
			JobName:  dag.Name,
			Pipeline: dag.Pipeline,
			Task:     t,
			Choice:   choice,
			Env:      dag.AttemptEnv(task.JobInfo{ID: opts.JobID, Name: dag.Name, Submitted: opts.Submitted}, i, t.Resources.GPUsPerNode()),
			Secrets:  secrets,
		}
		if t.Pool != nil {
			a.Pool = dag.Name
		}
		job, err := RenderJob(a, opts.Render)
		if err != nil {
			return nil, fmt.Errorf("task %d (%s): %w", i, t.Name, err)
		}
		out[i] = Translation{Attempt: a, Job: job}
	}
	return out, nil
}

// Jobspec formats.
const (
	FormatHCL  = "hcl"
	FormatJSON = "json"
)

// WriteJobspecs writes translations in format: HCL jobspecs, each after a
// "# task N: name" comment and separated by a blank line, or JSON request
// bodies ({"Job": ...}), one document per task. Several tasks make a
// stream `nomad job run` refuses ("Duplicate job block"): WriteJobspecFiles
// writes one file per task.
func WriteJobspecs(w io.Writer, ts []Translation, format string) error {
	for i, t := range ts {
		doc, err := jobspec(t, format)
		if err != nil {
			return err
		}
		if i > 0 && format == FormatHCL {
			doc = append([]byte("\n"), doc...)
		}
		if _, err := w.Write(doc); err != nil {
			return err
		}
	}
	return nil
}

// WriteJobspecFiles writes each translation to its own file in dir
// (created if missing), named after its Nomad job: sky-<job id>-<task>.nomad.hcl,
// or .json in FormatJSON. Each file holds one job, what `nomad job run`
// (-json) takes. It returns the paths written, in task order.
func WriteJobspecFiles(dir string, ts []Translation, format string) ([]string, error) {
	ext, ok := map[string]string{FormatHCL: ".nomad.hcl", FormatJSON: ".json"}[format]
	if !ok {
		return nil, formatError(format)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("jobspec directory: %w", err)
	}
	paths := make([]string, 0, len(ts))
	for _, t := range ts {
		id := *t.Job.ID
		if id == "" || id != filepath.Base(id) || id == "." || id == ".." {
			return paths, fmt.Errorf("task %d (%s): Nomad job id %q is not a file name", t.Attempt.Ref.Task, t.Attempt.Task.Name, id)
		}
		doc, err := jobspec(t, format)
		if err != nil {
			return paths, err
		}
		path := filepath.Join(dir, id+ext)
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			return paths, fmt.Errorf("task %d (%s): %w", t.Attempt.Ref.Task, t.Attempt.Task.Name, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// jobspec renders one translation: the HCL jobspec after a "# task N:
// name" comment, or the JSON request body.
func jobspec(t Translation, format string) ([]byte, error) {
	switch format {
	case FormatHCL:
		doc, err := JobHCL(t.Job)
		if err != nil {
			return nil, err
		}
		return append(fmt.Appendf(nil, "# task %d: %s\n", t.Attempt.Ref.Task, t.Attempt.Task.Name), doc...), nil
	case FormatJSON:
		return JobJSON(t.Job)
	}
	return nil, formatError(format)
}

func formatError(format string) error {
	return fmt.Errorf("jobspec format %q: want %s or %s", format, FormatHCL, FormatJSON)
}
