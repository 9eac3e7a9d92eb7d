package translator

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/task"
)

func TestOverrideErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		o    Overrides
		want string
	}{
		{"good/hello.yaml", Overrides{GPUs: "A100:x"},
			`--gpus: "A100:x" is not an accelerator request: the count "x" is not a positive number; accepted: ` + acceleratorForms},
		{"good/hello.yaml", Overrides{GPUs: "H10"},
			`--gpus: unknown accelerator "H10"; did you mean "H100"? accepted: A10, A10G, A100, A100-80GB, A40, B100, B200, GB200, GH200, H100, H100-MEGA, H200, K520, K80, L4, L40, L40S, M60, MI210, MI250, MI250X, MI300, MI300X, MI325X, Radeon MI25, P100, P4, P40, RTX3090, RTX4090, RTX6000, RTXA4000, RTXA5000, RTXA6000, T4, T4g, V100, V100-32GB, Inferentia, Inferentia2, Trainium, Trainium2, Gaudi HL-205, Radeon Pro V520, Virtex UltraScale (VU9P), tpu-v2-8, tpu-v3-8, tpu-v4-8, tpu-v5litepod-8, tpu-v5p-8, tpu-v6e-8`},
		{"good/hello.yaml", Overrides{Infra: "awz/us-east-1"},
			`--infra: unknown cloud "awz"; did you mean "aws"? accepted: aws, azure, cudo, do, fluidstack, gcp, hyperbolic, ibm, kubernetes, lambda, local, nebius, oci, paperspace, primeintellect, runpod, scp, seeweb, ssh, vast, vsphere, k8s`},
		{"good/hello.yaml", Overrides{CPUs: "lots"},
			`--cpus: "lots" is not a valid amount; accepted: a number of vCPUs, + for at least (e.g. 8, 8+, 0.5)`},
		{"good/hello.yaml", Overrides{DiskSize: "10MB"},
			`--disk-size: "10MB" is not a whole number of GB; accepted: a size in GB, optional unit (e.g. 256, 256GB, 1TB)`},
		{"good/hello.yaml", Overrides{JobRecovery: "FAILOVR"},
			`--job-recovery: unknown recovery strategy "FAILOVR"; did you mean "FAILOVER"? accepted: EAGER_NEXT_REGION, FAILOVER`},
		{"good/hello.yaml", Overrides{ImageID: "docker:"},
			`--image-id: no image given; accepted: an image id, docker:<image>, or a mapping of region to image`},
		{"good/hello.yaml", Overrides{Name: "my job"},
			`--name: "my job" is not a valid name; accepted: ` + nameAccepted},
		{"good/hello.yaml", Overrides{NumNodes: "-1"},
			`--num-nodes: -1 is out of range; accepted: an integer >= 1`},
		// The flag is refused exactly as `num_nodes: 0` in the file is.
		{"good/hello.yaml", Overrides{NumNodes: "0"},
			`--num-nodes: 0 is out of range; accepted: an integer >= 1`},
		{"good/hello.yaml", Overrides{NumNodes: "two"},
			`--num-nodes: expected an integer, got "two"`},
		{"good/pipeline.yaml", Overrides{GPUs: "A100"},
			`good/pipeline.yaml: --gpus: cannot be applied to a pipeline of several tasks; set it in each task of the file`},
		{"good/pipeline.yaml", Overrides{NumNodes: "2"},
			`good/pipeline.yaml: --num-nodes: cannot be applied to a pipeline of several tasks; set it in each task of the file`},
		{"good/pool.yaml", Overrides{JobRecovery: "FAILOVER"},
			`--job-recovery: not allowed in a pool file: the pool replaces lost workers and retries a failed setup itself; accepted: resources without job_recovery; a job submitted to the pool may set its own`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			_, err := loadCase(t, filepath.Join("testdata", tt.file), LoadOptions{Overrides: tt.o})
			if err == nil {
				t.Fatal("Load accepted the overrides")
			}
			if !IsError(err) {
				t.Errorf("error %v is %T, want *Error", err, err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverridesApply(t *testing.T) {
	t.Parallel()
	taskNames := func(d *task.DAG) []string {
		var names []string
		for _, tk := range d.Tasks {
			names = append(names, tk.Name)
		}
		return names
	}
	tests := []struct {
		name  string
		file  string
		o     Overrides
		check func(t *testing.T, d *task.DAG)
	}{
		{"--name renames a pipeline, keeping named tasks", "good/pipeline.yaml", Overrides{Name: "nightly"},
			func(t *testing.T, d *task.DAG) {
				if d.Name != "nightly" || !cmp.Equal(taskNames(d), []string{"train", "eval"}) {
					t.Errorf("got %s %v", d.Name, taskNames(d))
				}
			}},
		{"--name renames unnamed pipeline tasks", "good/pipeline-unnamed.yaml", Overrides{Name: "nightly"},
			func(t *testing.T, d *task.DAG) {
				if want := []string{"nightly-0", "transform", "nightly-2"}; !cmp.Equal(taskNames(d), want) {
					t.Errorf("tasks %v, want %v", taskNames(d), want)
				}
			}},
		{"--infra replaces cloud/region/zone", "good/cloud-region-zone.yaml", Overrides{Infra: "gcp"},
			func(t *testing.T, d *task.DAG) {
				if got := d.Tasks[0].Candidates[0].Infra; got != (task.Infra{Cloud: "gcp"}) {
					t.Errorf("infra %+v, want gcp only", got)
				}
			}},
		{"--no-use-spot replaces every candidate's use_spot", "good/any-of.yaml", Overrides{UseSpot: ptrTo(false)},
			func(t *testing.T, d *task.DAG) {
				cands := d.Tasks[0].Candidates
				if len(cands) != 2 || cands[0].UseSpot || cands[1].UseSpot {
					t.Errorf("candidates %+v, want the two accelerators on demand", cands)
				}
			}},
		{"--job-recovery drops the file's restarts, as in SkyPilot", "good/restarts.yaml", Overrides{JobRecovery: "failover"},
			func(t *testing.T, d *task.DAG) {
				want := task.JobRecovery{Strategy: task.StrategyFailover}
				if got := d.Tasks[0].Candidates[0].JobRecovery; !cmp.Equal(got, want) {
					t.Errorf("job_recovery %+v, want %+v", got, want)
				}
			}},
		{"--gpus on a pool file replaces its accelerator set", "good/pool.yaml", Overrides{GPUs: "L4:1"},
			func(t *testing.T, d *task.DAG) {
				want := []task.Accelerator{{Name: "L4", Count: 1}}
				if c := d.Tasks[0].Candidates; len(c) != 1 || !cmp.Equal(c[0].Accelerators, want) {
					t.Errorf("candidates %+v, want one L4", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := loadCase(t, filepath.Join("testdata", tt.file), LoadOptions{Overrides: tt.o})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, d)
		})
	}
}

func TestParseVarFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		parse   func(string, func(string) (string, bool)) (task.EnvVar, error)
		arg     string
		want    task.EnvVar
		wantErr string
	}{
		{ParseEnvFlag, "K=V", task.EnvVar{Name: "K", Value: "V"}, ""},
		{ParseEnvFlag, "K=", task.EnvVar{Name: "K"}, ""},
		{ParseEnvFlag, "URL=a=b&c", task.EnvVar{Name: "URL", Value: "a=b&c"}, ""},
		{ParseEnvFlag, "FROM_SHELL", task.EnvVar{Name: "FROM_SHELL", Value: "shell-value"}, ""},
		{ParseEnvFlag, "MISSING", task.EnvVar{}, "--env: MISSING is not set in your environment; accepted: " + varFlagAccepted},
		{ParseEnvFlag, "1K=V", task.EnvVar{}, `--env: "1K" is not a valid variable name; accepted: ` + varFlagAccepted},
		{ParseEnvFlag, "=V", task.EnvVar{}, `--env: "" is not a valid variable name; accepted: ` + varFlagAccepted},
		{ParseSecretFlag, "TOKEN", task.EnvVar{}, "--secret: TOKEN is not set in your environment; accepted: " + varFlagAccepted},
		{ParseSecretFlag, "TOKEN=x", task.EnvVar{Name: "TOKEN", Value: "x"}, ""},
	}
	for _, tt := range tests {
		got, err := tt.parse(tt.arg, testEnviron)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !IsError(err) {
				t.Errorf("%q: error %v, want %q", tt.arg, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.arg, got, err, tt.want)
		}
	}
	if _, err := ParseEnvFlag("HOME", nil); err == nil {
		t.Error("a nil lookup found a variable")
	}
}

func TestParseDotenv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    []task.EnvVar
		wantErr string
	}{
		{"forms", "# comment\n\nA=1\nexport B = two words \nC='single # kept'\nD=\"line\\nnext \\\"q\\\"\" # note\nE=plain # comment\nF=\r\nG=x=y\n",
			[]task.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "two words"}, {Name: "C", Value: "single # kept"},
				{Name: "D", Value: "line\nnext \"q\""}, {Name: "E", Value: "plain"}, {Name: "F"}, {Name: "G", Value: "x=y"}}, ""},
		{"no equals", "A=1\n  JUSTNAME\n", nil, `vars.env:2:3: expected NAME=VALUE, got "JUSTNAME"; accepted: NAME=VALUE lines, # comments`},
		{"bad name", "export 9A=1\n", nil, `vars.env:1:8: "9A" is not a valid variable name; accepted: ` + varFlagAccepted},
		{"unclosed quote", "A=\"open\n", nil, `vars.env:1:3: A: the quoted value has no closing quote`},
		{"text after quote", "A='x' y\n", nil, `vars.env:1:3: A: unexpected text after the closing quote: "y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDotenv("vars.env", tt.data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("vars (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEnvFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("WANDB_API_KEY=abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnvFile(path)
	if err != nil || !cmp.Equal(got, []task.EnvVar{{Name: "WANDB_API_KEY", Value: "abc"}}) {
		t.Errorf("ParseEnvFile = %v, %v", got, err)
	}
	// The file's values fill the task's envs like --env does.
	d, err := loadCase(t, "testdata/good/train-spot.yaml", LoadOptions{Env: got})
	if err != nil {
		t.Fatal(err)
	}
	if envs := d.Tasks[0].Envs; envs[1] != got[0] {
		t.Errorf("envs %v, want WANDB_API_KEY from the file", envs)
	}
	if _, err := ParseEnvFile(filepath.Join(t.TempDir(), "missing.env")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadFileMissing(t *testing.T) {
	t.Parallel()
	if _, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"), LoadOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile: %v, want fs.ErrNotExist", err)
	}
}
