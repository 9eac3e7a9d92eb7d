package render

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// PreviewOptions say which job a DAG becomes and where it is planned.
type PreviewOptions struct {
	// JobID is the managed job's id (its Nomad jobs are sky-<id>-<task>).
	JobID int64
	// Submitted is the job's submission time, part of SKYPILOT_TASK_ID.
	Submitted time.Time
	// Catalog is what the optimizer plans over; Constraints narrow it.
	Catalog     *catalog.Catalog
	Constraints catalog.Constraints
	Render      Options
	// Files, when set, gives each task's files as its first attempt
	// would fetch them (bucket.Preview).
	Files func(dag task.DAG, taskIdx int) (node.Files, error)
}

// Translation is one task's first attempt, planned and rendered.
type Translation struct {
	Attempt *engine.Attempt
	Job     *api.Job
}

// Preview plans every task of dag on its cheapest (or first preferred)
// choice and renders its first attempt as the controller would launch it
// (the attempt from engine.NewAttempt, as the controller builds it): what
// `skynomad translate` prints. A task nothing fits fails with the
// planner's *catalog.NoFitError.
func Preview(dag *task.DAG, opts PreviewOptions) ([]Translation, error) {
	job := task.JobInfo{ID: opts.JobID, Name: dag.Name, Submitted: opts.Submitted}
	if dag.IsGroup() {
		return previewGroup(dag, job, opts)
	}
	out := make([]Translation, len(dag.Tasks))
	for i, t := range dag.Tasks {
		choices, err := opts.Catalog.Plan(t, opts.Constraints)
		if err != nil {
			return nil, fmt.Errorf("task %d (%s): %w", i, t.Name, err)
		}
		a := engine.NewAttempt(*dag, job, engine.Ref{JobID: opts.JobID, Task: i, Attempt: 1}, choices[0])
		if err := setFiles(a, dag, opts); err != nil {
			return nil, err
		}
		rendered, err := RenderJob(a, opts.Render)
		if err != nil {
			return nil, fmt.Errorf("task %d (%s): %w", i, t.Name, err)
		}
		out[i] = Translation{Attempt: a, Job: rendered}
	}
	return out, nil
}

// previewGroup renders a job group as its one Nomad job: its tasks placed
// together (catalog.CoLocate), one task group each.
func previewGroup(dag *task.DAG, job task.JobInfo, opts PreviewOptions) ([]Translation, error) {
	choices, err := catalog.PlanGroup(dag.Tasks, func(t task.Task) ([]catalog.Choice, error) {
		return opts.Catalog.Plan(t, opts.Constraints)
	})
	if err != nil {
		return nil, fmt.Errorf("job group %s: %w", dag.Name, err)
	}
	a := engine.NewAttempt(*dag, job, engine.Ref{JobID: opts.JobID, Attempt: 1}, choices[0])
	if err := setFiles(a, dag, opts); err != nil {
		return nil, err
	}
	rendered, err := RenderJob(a, opts.Render)
	if err != nil {
		return nil, fmt.Errorf("job group %s: %w", dag.Name, err)
	}
	return []Translation{{Attempt: a, Job: rendered}}, nil
}

// setFiles gives the attempt the files its first attempt would fetch,
// when the options say how.
func setFiles(a *engine.Attempt, dag *task.DAG, opts PreviewOptions) error {
	if opts.Files == nil {
		return nil
	}
	return a.SetFiles(func(i int) (node.Files, error) { return opts.Files(*dag, i) })
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

// jobspecComment names what a jobspec runs: "# task N: name", or a job
// group's tasks.
func jobspecComment(a *engine.Attempt) string {
	if len(a.Members) == 0 {
		return fmt.Sprintf("# task %d: %s\n", a.Ref.Task, a.Task.Name)
	}
	names := make([]string, len(a.Members))
	for i, m := range a.Members {
		names[i] = m.Task.Name
	}
	return fmt.Sprintf("# job group %s: %s, one task group each\n", a.Group, strings.Join(names, ", "))
}

// jobspec renders one translation: the HCL jobspec after a comment that
// names its task (jobspecComment), or the JSON request body.
func jobspec(t Translation, format string) ([]byte, error) {
	switch format {
	case FormatHCL:
		doc, err := JobHCL(t.Job)
		if err != nil {
			return nil, err
		}
		return append([]byte(jobspecComment(t.Attempt)), doc...), nil
	case FormatJSON:
		return JobJSON(t.Job)
	}
	return nil, formatError(format)
}

func formatError(format string) error {
	return fmt.Errorf("jobspec format %q: want %s or %s", format, FormatHCL, FormatJSON)
}
