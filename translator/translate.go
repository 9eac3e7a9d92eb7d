package translator

import (
	"fmt"
	"io"
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
// bodies ({"Job": ...}), one document per task.
func WriteJobspecs(w io.Writer, ts []Translation, format string) error {
	for i, t := range ts {
		var doc []byte
		var err error
		switch format {
		case FormatHCL:
			doc, err = JobHCL(t.Job)
			if err == nil {
				sep := ""
				if i > 0 {
					sep = "\n"
				}
				doc = append(fmt.Appendf(nil, "%s# task %d: %s\n", sep, t.Attempt.Ref.Task, t.Attempt.Task.Name), doc...)
			}
		case FormatJSON:
			doc, err = JobJSON(t.Job)
		default:
			return fmt.Errorf("jobspec format %q: want %s or %s", format, FormatHCL, FormatJSON)
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(doc); err != nil {
			return err
		}
	}
	return nil
}
