package translator

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// examplesDir holds the example task files and their translated jobspecs
// (`skynomad translate` output for job 1), kept as golden files.
const examplesDir = "../jobspecs/examples"

// exampleSubmitted fixes SKYPILOT_TASK_ID in the goldens.
var exampleSubmitted = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// exampleLoad supplies the flags an example needs: train-spot leaves its
// W&B key to --env, as its comment says.
var exampleLoad = map[string]LoadOptions{
	"train-spot.yaml": {Env: []task.EnvVar{{Name: "WANDB_API_KEY", Value: "your-wandb-key"}}},
}

// TestTranslateExamples translates every example and compares both formats
// with jobspecs/examples/<name>.nomad.hcl and <name>.json (-update rewrites
// them after a deliberate change, e.g. new catalog prices).
func TestTranslateExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(examplesDir, "src", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s/src: %v", examplesDir, err)
	}
	cloud := catalog.Default()
	withHost := cloud.With(localOffering)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			load := exampleLoad[filepath.Base(file)]
			load.Warn = func(string) {}
			dag, err := LoadFile(file, load)
			if err != nil {
				t.Fatal(err)
			}
			cat := cloud
			if load.Overrides.Infra == catalog.LocalCloud {
				cat = withHost
			}
			ts, err := Translate(dag, TranslateOptions{JobID: 1, Submitted: exampleSubmitted, Catalog: cat})
			if err != nil {
				t.Fatal(err)
			}
			for _, format := range []string{FormatHCL, FormatJSON} {
				var got bytes.Buffer
				if err := WriteJobspecs(&got, ts, format); err != nil {
					t.Fatal(err)
				}
				ext := map[string]string{FormatHCL: ".nomad.hcl", FormatJSON: ".json"}[format]
				compareGolden(t, filepath.Join(examplesDir, name+ext), got.Bytes())
			}
			for _, tr := range ts {
				hcl, err := JobHCL(tr.Job)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(summarizeJob(tr.Job), summarizeHCL(t, hcl)); diff != "" {
					t.Errorf("task %d: jobspec vs job (-job +jobspec):\n%s", tr.Attempt.Ref.Task, diff)
				}
			}
		})
	}
}

func TestTranslateInfeasible(t *testing.T) {
	t.Parallel()
	dag := &task.DAG{Name: "big", Tasks: []task.Task{{
		Name: "big", NumNodes: 1, Run: "true",
		Resources: task.Resources{Accelerators: []task.Accelerator{{Name: "A100", Count: 1000}}},
	}}}
	_, err := Translate(dag, TranslateOptions{JobID: 1, Catalog: catalog.Default()})
	if !catalog.IsNoFit(err) || !strings.Contains(err.Error(), "task 0 (big)") {
		t.Fatalf("Translate of 1000 A100s: err = %v, want a no-fit error naming task 0 (big)", err)
	}
}

func TestWriteJobspecsPipeline(t *testing.T) {
	t.Parallel()
	dag := &task.DAG{Name: "p", Pipeline: true, Tasks: []task.Task{
		{Name: "a", NumNodes: 1, Run: "echo a"},
		{Name: "b", NumNodes: 1, Run: "echo b"},
	}}
	ts, err := Translate(dag, TranslateOptions{JobID: 4, Catalog: catalog.New([]catalog.Offering{localOffering})})
	if err != nil {
		t.Fatal(err)
	}
	var hcl bytes.Buffer
	if err := WriteJobspecs(&hcl, ts, FormatHCL); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# task 0: a\njob \"sky-4-0\" {", "}\n\n# task 1: b\njob \"sky-4-1\" {"} {
		if !strings.Contains(hcl.String(), want) {
			t.Errorf("HCL output lacks %q:\n%s", want, hcl.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJobspecs(&js, ts, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(js.String(), "\n{\n") + 1; n != 2 || !strings.HasPrefix(js.String(), "{\n") {
		t.Errorf("JSON output holds %d documents, want 2:\n%s", n, js.String())
	}
	if err := WriteJobspecs(&js, ts, "yaml"); err == nil {
		t.Error("WriteJobspecs with format yaml: no error")
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
