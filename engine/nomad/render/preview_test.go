package render

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
)

// examplesDir holds the example task files and their translated jobspecs
// (`skynomad translate` output for job 1), kept as golden files.
const examplesDir = "../../../jobspecs/examples"

// exampleSubmitted fixes SKYPILOT_TASK_ID in the goldens.
var exampleSubmitted = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// exampleLoad supplies the flags an example needs: train-spot leaves its
// W&B key to --env, as its comment says.
var exampleLoad = map[string]translator.LoadOptions{
	"train-spot.yaml": {Env: []task.EnvVar{{Name: "WANDB_API_KEY", Value: "your-wandb-key"}}},
}

// TestTranslateExamples translates every example and compares both formats
// with jobspecs/examples/<name>.nomad.hcl and <name>.json (-update rewrites
// them after a deliberate change, e.g. new catalog prices).
func TestTranslateExamples(t *testing.T) {
	t.Parallel()
	for _, file := range exampleFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := translateExample(t, file)
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

// exampleFiles lists the example task files.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "src", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s/src: %v", examplesDir, err)
	}
	return files
}

// translateExample translates an example task file as job 1, as
// `skynomad translate` would.
func translateExample(t *testing.T, file string) []Translation {
	t.Helper()
	load := exampleLoad[filepath.Base(file)]
	load.Warn = func(string) {}
	dag, err := translator.LoadFile(file, load)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Default()
	if load.Overrides.Infra == catalog.LocalCloud {
		cat = cat.With(localOffering)
	}
	ts, err := Preview(dag, PreviewOptions{JobID: 1, Submitted: exampleSubmitted, Catalog: cat,
		Files: func(d task.DAG, i int) (node.Files, error) { return bucket.Preview(bucket.PreviewTemp, d, i) }})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestWriteJobspecFiles: every file written holds exactly one job, named
// after it, so that each can be given alone to `nomad job run` (which
// refuses a file of several job blocks). With the nomad binary on PATH,
// `nomad job run -output` must accept each file.
func TestWriteJobspecFiles(t *testing.T) {
	t.Parallel()
	for _, file := range exampleFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := translateExample(t, file)
			for _, format := range []string{FormatHCL, FormatJSON} {
				dir := filepath.Join(t.TempDir(), "out")
				paths, err := WriteJobspecFiles(dir, ts, format)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, tr := range ts {
					want = append(want, filepath.Join(dir, *tr.Job.ID+map[string]string{FormatHCL: ".nomad.hcl", FormatJSON: ".json"}[format]))
				}
				if diff := cmp.Diff(want, paths); diff != "" {
					t.Fatalf("%s files (-want +got):\n%s", format, diff)
				}
				entries, err := os.ReadDir(dir)
				if err != nil || len(entries) != len(ts) {
					t.Errorf("%s holds %d entries (%v), want %d", dir, len(entries), err, len(ts))
				}
				for i, path := range paths {
					text, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if got := onlyJobID(t, format, text); got != *ts[i].Job.ID {
						t.Errorf("%s holds job %q, want %q", path, got, *ts[i].Job.ID)
					}
				}
				t.Run("nomad job run -output "+format, func(t *testing.T) {
					nomad := nomadBinary(t)
					for _, path := range paths {
						args := []string{"job", "run", "-output", path}
						if format == FormatJSON {
							args = []string{"job", "run", "-json", "-output", path}
						}
						out, err := exec.CommandContext(t.Context(), nomad, args...).CombinedOutput()
						if err != nil {
							t.Errorf("nomad %s: %v\n%s", strings.Join(args, " "), err, out)
						}
					}
				})
			}
		})
	}
}

// onlyJobID checks text is exactly one job (an HCL file of one job block,
// or one {"Job": ...} JSON document) and returns its id.
func onlyJobID(t *testing.T, format string, text []byte) string {
	t.Helper()
	if format == FormatJSON {
		dec := json.NewDecoder(bytes.NewReader(text))
		var doc map[string]struct{ ID string }
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, text)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Errorf("more than one JSON document:\n%s", text)
		}
		if _, ok := doc["Job"]; !ok || len(doc) != 1 {
			t.Errorf("document has %d keys, want only Job:\n%s", len(doc), text)
		}
		return doc["Job"].ID
	}
	root := parseHCL(t, text)
	if len(root.blocks) != 1 || root.blocks[0].typ != "job" || len(root.attrs) != 0 {
		var types []string
		for _, b := range root.blocks {
			types = append(types, b.typ)
		}
		t.Fatalf("top level holds blocks %q and %d attributes, want one job block:\n%s", types, len(root.attrs), text)
	}
	return root.blocks[0].node.labels[0]
}

// nomadBinary finds the nomad command (Nomad 1.6.1, built by make tools).
// Without it the test skips, or fails when CI=true.
func nomadBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nomad")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("nomad is not on PATH (CI=true): %v; make tools builds it into ~/.cache/skynomad-tools/bin", err)
	}
	t.Skip("nomad is not on PATH: not checking the files with `nomad job run -output` (make tools builds Nomad 1.6.1 into ~/.cache/skynomad-tools/bin)")
	return ""
}

func TestTranslateInfeasible(t *testing.T) {
	t.Parallel()
	dag := &task.DAG{Name: "big", Tasks: []task.Task{{
		Name: "big", NumNodes: 1, Run: "true",
		Resources: task.Resources{Accelerators: []task.Accelerator{{Name: "A100", Count: 1000}}},
	}}}
	_, err := Preview(dag, PreviewOptions{JobID: 1, Catalog: catalog.Default()})
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
	ts, err := Preview(dag, PreviewOptions{JobID: 4, Catalog: catalog.New([]catalog.Offering{localOffering})})
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
	if paths, err := WriteJobspecFiles(t.TempDir(), ts, "yaml"); err == nil || len(paths) != 0 {
		t.Errorf("WriteJobspecFiles with format yaml: %v, %v; want an error and no file", paths, err)
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
