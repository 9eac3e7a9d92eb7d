package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// translatedExamples holds the translated example jobspecs (translator's golden files).
const translatedExamples = "../jobspecs/examples"

// runTranslate runs `skynomad translate args...` as main would, at the
// examples' fixed submission time.
func runTranslate(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	// A home of its own: no downloaded catalog, no config.yaml.
	home := t.TempDir()
	io := IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string {
			if v, ok := env[k]; ok || k != "SKYNOMAD_HOME" {
				return v
			}
			return home
		},
		Now: func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
	}
	code = Main(context.Background(), io, append([]string{"translate"}, args...))
	// A local workdir is resolved against the directory the command runs
	// in: show it as the examples write it (workdir: .).
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(out.String(), cwd, "."), strings.ReplaceAll(errOut.String(), cwd, "."), code
}

// TestTranslatePrintsTheExamples: the command prints exactly the golden
// jobspecs of jobspecs/translatedExamples.
func TestTranslatePrintsTheExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		env    map[string]string
		args   []string
	}{
		{golden: "hello.nomad.hcl", args: []string{"src/hello.yaml"}},
		{golden: "hello.json", args: []string{"-o", "json", "src/hello.yaml"}},
		{golden: "pipeline.nomad.hcl", args: []string{"src/pipeline.yaml"}},
		{golden: "pipeline.json", args: []string{"--output", "json", "src/pipeline.yaml"}},
		{golden: "pool.nomad.hcl", args: []string{"src/pool.yaml"}},
		{
			golden: "train-spot.nomad.hcl", env: map[string]string{"WANDB_API_KEY": "your-wandb-key"},
			args: []string{"--env", "WANDB_API_KEY", "src/train-spot.yaml"},
		},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			args := append([]string(nil), tc.args...)
			args[len(args)-1] = filepath.Join(translatedExamples, args[len(args)-1])
			stdout, stderr, code := runTranslate(t, tc.env, args...)
			if code != ExitOK {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			want, err := os.ReadFile(filepath.Join(translatedExamples, tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), stdout); diff != "" {
				t.Errorf("stdout vs %s (-want +got):\n%s", tc.golden, diff)
			}
		})
	}
}

// The workdir and the bucket mount of the spot example reach the task
// through the job-files bucket: the runner fetches and mounts them, and
// nothing is left out of the jobspec.
func TestTranslateDeliversWorkdirAndBuckets(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runTranslate(t, nil, "--env", "WANDB_API_KEY=k", filepath.Join(translatedExamples, "src", "train-spot.yaml"))
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want no warning", stderr)
	}
	for _, want := range []string{`SKYNOMAD_FILES=`, `\"workdir\":\"job-<runid>/workdir\"`,
		`\"url\":\"s3://my-train-checkpoints\",\"mode\":\"MOUNT_CACHED\",\"path\":\"/checkpoint\"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("jobspec lacks %s:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "unsupported_mounts") {
		t.Error("the jobspec still lists unsupported mounts")
	}
}

func TestTranslateOverridesAndSecrets(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runTranslate(t, nil, "--job-id", "42", "--gpus", "H100:8", "--use-spot",
		"--secret", "HF_TOKEN=hf_do-not-print", "--task-driver", "raw_exec", "--runner-path", "/opt/skynomad", filepath.Join(translatedExamples, "src", "hello.yaml"))
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`job "sky-42-0" {`, `"sky.capacity"  = "spot"`, `device "nvidia/gpu" {`, "count = 8",
		`driver = "raw_exec"`, `command = "/opt/skynomad"`, `nomadVar \"nomad/jobs/sky-42-0\"`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("jobspec lacks %s", want)
		}
	}
	if strings.Contains(stdout+stderr, "hf_do-not-print") {
		t.Error("translate printed a secret's value")
	}
}

func TestTranslateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{
			name:       "infeasible request",
			args:       []string{"--gpus", "A100:1000", filepath.Join(translatedExamples, "src", "hello.yaml")},
			wantStderr: []string{"src/hello.yaml:2:1: resources: nothing can run task 'hello': no offering fits:"},
		},
		{
			name: "bad task file",
			args: []string{filepath.Join("testdata", "bad-unknown-field.yaml")},
			wantStderr: []string{"testdata/bad-unknown-field.yaml:4:3: resources.accelerator: unknown field\n" +
				"  did you mean \"accelerators\"?\n  accepted: accelerator_args, accelerators, "},
		},
		{
			name:       "bad flag",
			args:       []string{"--env", "1X=2", filepath.Join(translatedExamples, "src", "hello.yaml")},
			wantStderr: []string{"--env: \"1X\" is not a valid variable name\n  accepted: NAME=VALUE"},
		},
		{
			name:       "unknown format",
			args:       []string{"-o", "yaml", filepath.Join(translatedExamples, "src", "hello.yaml")},
			wantStderr: []string{"-o yaml: want hcl or json"},
		},
		{
			name:       "both spot flags",
			args:       []string{"--use-spot", "--no-use-spot", filepath.Join(translatedExamples, "src", "hello.yaml")},
			wantStderr: []string{"--use-spot and --no-use-spot exclude each other"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runTranslate(t, nil, tc.args...)
			if code == ExitOK {
				t.Fatalf("exit code 0, stdout:\n%s", stdout)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestTranslateBadExamples: each file of examples/bad is refused with the
// error people see, whose first line is where editors jump
// (path:line:col: field: message) and whose next lines say what would be
// accepted (testdata/translate-bad-<name>.txt; -update rewrites them).
func TestTranslateBadExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "examples", "bad", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in ../examples/bad: %v", err)
	}
	located := regexp.MustCompile(`^\.\./examples/bad/[a-z-]+\.yaml:[0-9]+:[0-9]+: \S`)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runTranslate(t, nil, file)
			if code != ExitError {
				t.Errorf("exit code %d, want %d", code, ExitError)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if first, _, _ := strings.Cut(stderr, "\n"); !located.MatchString(first) {
				t.Errorf("first line %q is not path:line:col: field: message", first)
			}
			golden(t, "translate-bad-"+name+".txt", stderr)
		})
	}
}

// TestTranslateOut: --out DIR writes one file per task, named after its
// Nomad job, holding what stdout would show for that task, and lists the
// paths; a pipeline printed to stdout still holds every jobspec but warns
// that nomad job run takes one per file.
func TestTranslateOut(t *testing.T) {
	t.Parallel()
	pipeline := filepath.Join(translatedExamples, "src", "pipeline.yaml")
	tests := []struct {
		name      string
		args      []string
		golden    string   // stdout without --out: every file, in order
		wantFiles []string // in DIR
		sep       string   // between the files in golden
	}{
		{"hcl", nil, "pipeline.nomad.hcl", []string{"sky-1-0.nomad.hcl", "sky-1-1.nomad.hcl"}, "\n"},
		{"json", []string{"-o", "json"}, "pipeline.json", []string{"sky-1-0.json", "sky-1-1.json"}, ""},
		{"job id", []string{"--job-id", "7"}, "", []string{"sky-7-0.nomad.hcl", "sky-7-1.nomad.hcl"}, "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "jobspecs")
			stdout, stderr, code := runTranslate(t, nil, append(append([]string{"--out", dir}, tc.args...), pipeline)...)
			if code != ExitOK {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			if strings.Contains(stderr, "jobspecs") {
				t.Errorf("--out warned about several jobspecs:\n%s", stderr)
			}
			var wantOut string
			for _, f := range tc.wantFiles {
				wantOut += filepath.Join(dir, f) + "\n"
			}
			if diff := cmp.Diff(wantOut, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			var docs []string
			for _, f := range tc.wantFiles {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, string(b))
			}
			if tc.golden == "" {
				return
			}
			want, err := os.ReadFile(filepath.Join(translatedExamples, tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), strings.Join(docs, tc.sep)); diff != "" {
				t.Errorf("files vs %s (-want +got):\n%s", tc.golden, diff)
			}
		})
	}

	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		for _, format := range []string{"hcl", "json"} {
			stdout, stderr, code := runTranslate(t, nil, "-o", format, pipeline)
			if code != ExitOK || stdout == "" {
				t.Fatalf("exit code %d, stdout %d bytes, stderr:\n%s", code, len(stdout), stderr)
			}
			want := "Warning: this output holds 2 jobspecs, one per task; nomad job run takes one per file: --out DIR writes one file per task\n"
			if stderr != want {
				t.Errorf("-o %s: stderr = %q, want %q", format, stderr, want)
			}
		}
		if _, stderr, _ := runTranslate(t, nil, filepath.Join(translatedExamples, "src", "hello.yaml")); stderr != "" {
			t.Errorf("one task: stderr = %q, want nothing", stderr)
		}
	})

	t.Run("help", func(t *testing.T) {
		t.Parallel()
		stdout, _, code := runTranslate(t, nil, "--help")
		if code != ExitOK {
			t.Fatalf("exit code %d", code)
		}
		for _, want := range []string{"one file per task", "sky-<job id>-<task>.nomad.hcl", "nomad job run"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("--help lacks %q:\n%s", want, stdout)
			}
		}
		if flag := regexp.MustCompile(`\n +--out DIR +write one jobspec file per task`); !flag.MatchString(stdout) {
			t.Errorf("--help lists no --out DIR flag:\n%s", stdout)
		}
	})
}

// TestReadmeTranslateCommands: the `bin/skynomad translate` commands of the
// README work as written (run from the repository's root).
func TestReadmeTranslateCommands(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for line := range strings.Lines(string(readme)) {
		line, _, _ = strings.Cut(line, "#")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "bin/skynomad translate "); ok {
			cmds = append(cmds, rest)
		}
	}
	if len(cmds) < 2 {
		t.Fatalf("README shows %d translate commands, want the single task and the pipeline ones", len(cmds))
	}
	for _, cmd := range cmds {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			args := strings.Fields(cmd)
			for i, a := range args {
				switch {
				case i > 0 && args[i-1] == "--out":
					args[i] = filepath.Join(t.TempDir(), a)
				case !strings.HasPrefix(a, "-"):
					if _, err := os.Stat(filepath.Join("..", a)); err == nil {
						args[i] = filepath.Join("..", a)
					}
				}
			}
			if _, stderr, code := runTranslate(t, nil, args...); code != ExitOK {
				t.Errorf("bin/skynomad translate %s: exit code %d:\n%s", cmd, code, stderr)
			}
		})
	}
}

// TestTranslateRefusesWhatCannotStart: a TPU (which the capacity plugin
// does not start) and half a T4 (which no instance type has) are refused,
// saying why; L4:1 (with its g2 machine) and T4:2 (on an N1 machine) are
// placed on GCP.
func TestTranslateRefusesWhatCannotStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, accel, want string
		code              int
	}{
		{"tpu", "tpu-v6e-8", "tpu-v6e-8 is a Cloud TPU VM, which skynomad-target (the capacity plugin) does not start yet", ExitError},
		{"half-t4", "T4:0.5", "no offering has 0.5x T4; a fractional count needs an instance type that has that fraction of a T4, as SkyPilot plans it, and none does: use one of T4:1", ExitError},
		{"l4-gcp", "L4:1", "", ExitOK},
		{"t4x2-gcp", "T4:2", "", ExitOK}, // on an N1 machine: node class sky-gcp-<region>-n1-highmem-8-T4x2-<capacity>
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tc.name+".yaml")
			yaml := "resources:\n  infra: gcp\n  accelerators: " + tc.accel + "\nrun: nvidia-smi\n"
			if tc.name == "half-t4" {
				yaml = strings.Replace(yaml, "infra: gcp", "infra: '*'", 1)
			}
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runTranslate(t, nil, path)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant code %d and %q", code, stderr, tc.code, tc.want)
			}
			if tc.code == ExitOK && !strings.Contains(stdout, `"sky.offering"  = "sky-gcp-`) {
				t.Errorf("%s not placed on GCP:\n%s", tc.accel, stdout)
			}
		})
	}
}
