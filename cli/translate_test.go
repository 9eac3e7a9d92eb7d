package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	io := IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
	}
	code = Main(context.Background(), io, append([]string{"translate"}, args...))
	return out.String(), errOut.String(), code
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

func TestTranslateWarnsAboutPendingMounts(t *testing.T) {
	t.Parallel()
	_, stderr, code := runTranslate(t, nil, "--env", "WANDB_API_KEY=k", filepath.Join(translatedExamples, "src", "train-spot.yaml"))
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	want := "Warning: task 0 (train-spot): not in the jobspec yet (needs the job-files bucket): workdir .; /checkpoint (MOUNT_CACHED bucket my-train-checkpoints)\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

func TestTranslateOverridesAndSecrets(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runTranslate(t, nil, "--job-id", "42", "--gpus", "H100:8", "--use-spot",
		"--secret", "HF_TOKEN=hf_do-not-print", "--runner-path", "/opt/skynomad", filepath.Join(translatedExamples, "src", "hello.yaml"))
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`job "sky-42-0" {`, `"sky.capacity"  = "spot"`, `device "nvidia/gpu" {`, "count = 8",
		`command = "/opt/skynomad"`, `nomadVar \"nomad/jobs/sky-42-0\"`,
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
			wantStderr: []string{"task 0 (hello): no offering fits:"},
		},
		{
			name:       "bad task file",
			args:       []string{filepath.Join("testdata", "bad-unknown-field.yaml")},
			wantStderr: []string{"Filename: testdata/bad-unknown-field.yaml", "Position: "},
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
