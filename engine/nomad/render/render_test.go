package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/ and ../../../jobspecs/examples)")

// goldenFile compares got with testdata/name, or rewrites it under -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

var (
	localOffering = catalog.Offering{Cloud: "local", Region: "local", InstanceType: "local", VCPUs: 8, MemoryGB: 16}
	p4d           = catalog.Offering{
		Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge", VCPUs: 96, MemoryGB: 1152,
		GPU: "A100", GPUCount: 8, OnDemandPrice: 32.77, SpotPrice: 9.83,
	}
	m6i = catalog.Offering{Cloud: "aws", Region: "us-west-2", InstanceType: "m6i.large", VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.096}
)

// Where the worker of pool-job-with-secrets runs.
const (
	workerAlloc = "5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11"
	workerNode  = "0b7e6a52-8f1d-4c3e-a2b5-6e9d4f1c8a07"
)

// skypilotEnv is what the controller would pass for job 7, task 0.
var skypilotEnv = task.DAG{Name: "hello", Tasks: []task.Task{{Name: "hello", NumNodes: 1}}}.AttemptEnv(
	task.JobInfo{ID: 7, Name: "hello", Submitted: time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC)}, 0, 0)

// attempts are hand-built attempts covering each rendering rule; each has
// golden JSON and HCL in testdata/.
var attempts = []struct {
	name string
	opts Options
	a    engine.Attempt
}{
	{
		name: "hello-local",
		a: engine.Attempt{
			Ref:     engine.Ref{JobID: 7, Task: 0, Attempt: 1},
			JobName: "hello",
			Task: task.Task{
				Name: "hello", NumNodes: 1,
				Setup: "echo \"Running setup.\"\n",
				Run:   "echo \"Hello, ${USER}!\"\nprintf '%{x}\\n' > /dev/null\n",
			},
			Choice: catalog.Choice{Offering: localOffering},
			Env: append(slices.Clone(skypilotEnv),
				task.EnvVar{Name: "DOLLAR", Value: "a$b ${HOME} $${x}"},
				task.EnvVar{Name: "QUOTED", Value: "say \"hi\"\\n\tthen\nleave"},
			),
		},
	},
	{
		name: "train-spot-multinode",
		a: engine.Attempt{
			Ref:     engine.Ref{JobID: 12, Task: 0, Attempt: 3},
			JobName: "train",
			Task: task.Task{
				Name: "train", NumNodes: 2,
				Workdir: &task.Workdir{GitURL: "https://github.com/example/train.git", GitRef: "v1.2"},
				Setup:   "pip install -r requirements.txt\n",
				Run:     "python train.py --ckpt-dir /checkpoint\n",
				Mounts: []task.Mount{
					{Dest: "/data", Source: "s3://datasets/imagenet"},
					{Dest: "/models", BucketName: "base-models", Store: "gcs", Mode: task.MountModeCopy},
					{Dest: "/checkpoint", BucketName: "ckpts", Mode: task.MountModeMountCached},
					{Dest: "/local-data", Source: "./data"},
				},
				Resources: task.Resources{
					Accelerators: []task.Accelerator{{Name: "A100", Count: 8}},
					UseSpot:      true, DiskSizeGB: 256, Priority: 300,
				},
			},
			Choice: catalog.Choice{Offering: p4d, Spot: true},
			Env:    []task.EnvVar{{Name: "EPOCHS", Value: "50"}},
			// As bucket.Manager.NodeFiles gives them: the git workdir is an
			// artifact, the rest the runner fetches.
			Files: node.Files{
				Store:  "s3://team-bucket/skynomad",
				Copies: []node.Copy{{Key: "job-12-5e1f0a2b/local-file-mounts/3", Dir: true, Path: "/local-data"}},
				Buckets: []node.Bucket{
					{URL: "s3://datasets/imagenet", Mode: "COPY", Path: "/data"},
					{URL: "gs://base-models", Mode: "COPY", Path: "/models"},
					{URL: "s3://ckpts", Mode: "MOUNT_CACHED", Path: "/checkpoint"},
				},
			},
			FilesEnv: []task.EnvVar{{Name: "AWS_ACCESS_KEY_ID", Value: "AKIAEXAMPLE"}, {Name: "AWS_SECRET_ACCESS_KEY", Value: "aws-very-secret-key"}},
		},
	},
	{
		name: "docker-image",
		a: engine.Attempt{
			Ref:      engine.Ref{JobID: 3, Task: 1, Attempt: 1},
			JobName:  "pipe",
			Pipeline: true,
			Task: task.Task{
				Name: "in-container", NumNodes: 1,
				Workdir: &task.Workdir{GitURL: "git@github.com:example/app.git"},
				Run:     "python -c \"import os; print(os.environ['GREETING'])\"",
				Resources: task.Resources{
					ImageID: "docker:python:3.12-slim",
					CPUs:    &task.Quantity{Value: 2},
					Memory:  &task.Quantity{Value: 64, AtLeast: true},
				},
			},
			Choice: catalog.Choice{Offering: m6i},
			Env:    []task.EnvVar{{Name: "GREETING", Value: "hi"}},
		},
	},
	{
		name: "pool-job-with-secrets",
		opts: Options{
			RunnerPath: "/usr/local/bin/skynomad", Datacenters: []string{"dc1", "dc2"},
			Namespace: "ml", Region: "eu", NodePool: "gpu", KillTimeout: 2 * time.Minute,
			Worker: &WorkerAlloc{AllocID: workerAlloc, NodeID: workerNode},
		},
		a: engine.Attempt{
			Ref:     engine.Ref{JobID: 40, Task: 0, Attempt: 2},
			JobName: "infer",
			Pool:    "inference",
			Task: task.Task{
				Name: "infer", NumNodes: 1,
				Setup:   "echo ignored: the pool ran setup\n",
				Run:     "echo rank $SKYPILOT_JOB_RANK\n",
				Workdir: &task.Workdir{GitURL: "https://github.com/example/infer.git"},
				Mounts:  []task.Mount{{Dest: "/data", Source: "s3://ignored/in/pools"}},
				Resources: task.Resources{
					Accelerators: []task.Accelerator{{Name: "H100", Count: 1}},
					Priority:     -1000, DiskSizeGB: 512,
				},
			},
			Choice:    catalog.Choice{Offering: p4d},
			SkipSetup: true,
			Worker:    &engine.Ref{JobID: 31, Task: 0, Attempt: 3},
			Secrets:   []task.EnvVar{{Name: "HF_TOKEN", Value: "hf_very-secret-value"}},
		},
	},
	{
		name: "pool-workers",
		a: engine.Attempt{
			Ref:     engine.Ref{JobID: 31, Task: 0, Attempt: 3},
			JobName: "inference",
			Pool:    "inference",
			Task: task.Task{
				Name: "inference", NumNodes: 1,
				Pool:    &task.PoolSpec{Workers: 2},
				Workdir: &task.Workdir{Path: "."},
				Setup:   "echo \"prepare the environment once per worker\"\n",
				Resources: task.Resources{
					Accelerators: []task.Accelerator{{Name: "H100", Count: 1}},
					DiskSizeGB:   512,
				},
			},
			Choice:  catalog.Choice{Offering: p4d, Spot: true},
			Env:     []task.EnvVar{{Name: "MODEL_NAME", Value: "openai/gpt-oss-20b"}},
			Secrets: []task.EnvVar{{Name: "HF_TOKEN", Value: "hf_pool-secret"}},
		},
	},
	{
		name: "meta-placement",
		opts: Options{NoNodeClass: true},
		a: engine.Attempt{
			Ref:     engine.Ref{JobID: 5, Task: 2, Attempt: 1},
			JobName: "cpu",
			Task: task.Task{
				Name: "cpu", NumNodes: 1, Run: "EOT\necho done\n",
				Resources: task.Resources{Memory: &task.Quantity{Value: 4}},
			},
			Choice: catalog.Choice{Offering: m6i},
		},
	},
}

func render(t *testing.T, i int) *api.Job {
	t.Helper()
	a := attempts[i].a
	job, err := RenderJob(&a, attempts[i].opts)
	if err != nil {
		t.Fatalf("RenderJob(%s): %v", attempts[i].name, err)
	}
	return job
}

func TestRenderJobGolden(t *testing.T) {
	t.Parallel()
	for i, tc := range attempts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := render(t, i)
			js, err := JobJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			goldenFile(t, tc.name+".json", js)
			hcl, err := JobHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			goldenFile(t, tc.name+".nomad.hcl", hcl)
		})
	}
}

// TestJobJSONRoundTrips: what we print is what the API client would send.
func TestJobJSONRoundTrips(t *testing.T) {
	t.Parallel()
	for i, tc := range attempts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := render(t, i)
			js, err := JobJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Job *api.Job }
			if err := json.Unmarshal(js, &got); err != nil {
				t.Fatal(err)
			}
			// JSON has one kind of number: a task config's 2 reads back as 2.0.
			for _, g := range job.TaskGroups {
				for _, tk := range g.Tasks {
					b, _ := json.Marshal(tk.Config)
					tk.Config = nil
					_ = json.Unmarshal(b, &tk.Config)
				}
			}
			if diff := cmp.Diff(job, got.Job); diff != "" {
				t.Errorf("job after a JSON round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJobJSONHasFixtureShape: every field of a request a real Nomad 1.6.1
// accepted (a job with a prestart setup task) is where our jobs have it.
func TestJobJSONHasFixtureShape(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "fixture-1.6.1-setup-fail.request.json"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := JobJSON(render(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	want, got := jsonPaths(t, fixture), jsonPaths(t, js)
	var missing []string
	for p := range want {
		// The fixture's task config is raw_exec's; ours is the skypilot
		// driver's (TestRenderJobTasks).
		if !got[p] && !strings.Contains(p, ".Tasks.Config.") {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("rendered job lacks fields of the 1.6.1 request: %v", missing)
	}
}

// jsonPaths lists the dotted paths of every member of a JSON document
// (array elements share their array's path; meta keys are data, not paths).
func jsonPaths(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if strings.HasSuffix(prefix, ".Meta") {
				return
			}
			for k, e := range v {
				p := prefix + "." + k
				paths[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range v {
				walk(prefix, e)
			}
		}
	}
	walk("", v)
	return paths
}

// TestSecretsNeverInline: secret values, and the stores' credentials,
// reach the task only through the Nomad Variable; neither jobspec form
// contains them.
func TestSecretsNeverInline(t *testing.T) {
	t.Parallel()
	for i, tc := range attempts {
		if len(tc.a.Secrets)+len(tc.a.FilesEnv) == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := render(t, i)
			js, err := JobJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			hcl, err := JobHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range append(tc.a.Secrets, tc.a.FilesEnv...) {
				for form, text := range map[string][]byte{"JSON": js, "HCL": hcl} {
					if bytes.Contains(text, []byte(s.Value)) {
						t.Errorf("%s jobspec contains the value of secret %s", form, s.Name)
					}
				}
			}
			for _, task := range job.TaskGroups[0].Tasks {
				var found bool
				for _, tmpl := range task.Templates {
					if *tmpl.DestPath == secretsFilePath {
						found = true
						if !*tmpl.Envvars || !strings.Contains(*tmpl.EmbeddedTmpl, `nomadVar "nomad/jobs/`+*job.ID+`"`) {
							t.Errorf("task %s: secrets template does not read nomad/jobs/%s into the env: %q", task.Name, *job.ID, *tmpl.EmbeddedTmpl)
						}
					}
				}
				if !found {
					t.Errorf("task %s has no secrets template", task.Name)
				}
			}
		})
	}
}

// TestEnvReachesTaskUnchanged renders the env-file template as
// consul-template would (text/template with our delimiters) and reads it as
// Nomad's env-file parser would: every value comes back as given.
func TestEnvReachesTaskUnchanged(t *testing.T) {
	t.Parallel()
	values := []string{
		"plain", "", "a$b", "${HOME}", "$${x}", "%{ if }", `back\slash`, `"quoted"`,
		"two\nlines\n", "tab\there", "{{ .Secret }}", "[[=skynomad: \"x\" :skynomad=]]", "ünïcode ✓", "#not a comment",
		"  spaced  ", "'single'",
	}
	var env []task.EnvVar
	for i, v := range values {
		env = append(env, task.EnvVar{Name: fmt.Sprintf("V%d", i), Value: v})
	}
	a := engine.Attempt{Task: task.Task{Name: "t", Run: "true"}, Choice: catalog.Choice{Offering: localOffering}, Env: env}
	job, err := RenderJob(&a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := job.TaskGroups[0].Tasks[0]
	for k, v := range run.Env {
		if slices.ContainsFunc(env, func(e task.EnvVar) bool { return e.Name == k }) {
			t.Errorf("user env %s=%q is in the env block, where Nomad would interpolate it", k, v)
		}
	}
	got := readEnvFile(t, renderTemplate(t, templateAt(t, run, envFilePath)))
	for _, e := range env {
		if got[e.Name] != e.Value {
			t.Errorf("%s: task would see %q, want %q", e.Name, got[e.Name], e.Value)
		}
	}
}

func TestEnvControlCharacterIsRefused(t *testing.T) {
	t.Parallel()
	a := engine.Attempt{
		Task:   task.Task{Name: "t", Run: "true"},
		Choice: catalog.Choice{Offering: localOffering},
		Env:    []task.EnvVar{{Name: "CR", Value: "a\rb"}},
	}
	_, err := RenderJob(&a, Options{})
	if err == nil || !strings.Contains(err.Error(), "env CR") {
		t.Fatalf("RenderJob with a carriage return in an env value: err = %v, want an error naming env CR", err)
	}
}

// A task in an image under raw_exec has no runner to fetch its files:
// its job is refused as infeasible rather than run without them; under
// the skypilot driver the runner in the image fetches them.
func TestFilesInAnImageNeedTheTaskDriver(t *testing.T) {
	t.Parallel()
	a := engine.Attempt{
		Task: task.Task{Name: "t", Run: "ls", Workdir: &task.Workdir{Path: "/home/u/proj"},
			Resources: task.Resources{ImageID: "docker:python:3.12"}},
		Choice: catalog.Choice{Offering: localOffering},
		Files:  node.Files{Store: "s3://b/jobs", Workdir: "job-1-ab/workdir"},
	}
	_, err := RenderJob(&a, Options{TaskDriver: "raw_exec", RunnerPath: "/usr/local/bin/skynomad"})
	if !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "only under the skypilot task driver") {
		t.Fatalf("RenderJob under raw_exec = %v, want an infeasible job naming the task driver", err)
	}
	if _, err := RenderJob(&a, Options{TaskDriver: "skypilot"}); err != nil {
		t.Fatalf("RenderJob under the skypilot driver: %v", err)
	}
}

// TestScriptsRenderUnchanged: setup and run scripts reach local/*.sh as
// written, whatever template syntax they contain.
func TestScriptsRenderUnchanged(t *testing.T) {
	t.Parallel()
	script := "echo {{ not a template }} [[=skynomad: .Evil :skynomad=]] ${HOME} %{x}\n"
	a := engine.Attempt{
		Task:   task.Task{Name: "t", Setup: script, Run: script},
		Choice: catalog.Choice{Offering: localOffering},
	}
	job, err := RenderJob(&a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range job.TaskGroups[0].Tasks {
		file := "local/" + tk.Name + ".sh"
		if got := renderTemplate(t, templateAt(t, tk, file)); got != script {
			t.Errorf("task %s: %s renders as %q, want %q", tk.Name, file, got, script)
		}
	}
}

func templateAt(t *testing.T, tk *api.Task, dest string) *api.Template {
	t.Helper()
	for _, tmpl := range tk.Templates {
		if *tmpl.DestPath == dest {
			return tmpl
		}
	}
	t.Fatalf("task %s has no template for %s", tk.Name, dest)
	return nil
}

// renderTemplate executes a template the way consul-template does: Go's
// text/template with the block's delimiters and no data.
func renderTemplate(t *testing.T, tmpl *api.Template) string {
	t.Helper()
	parsed, err := template.New("t").Delims(*tmpl.LeftDelim, *tmpl.RightDelim).Parse(*tmpl.EmbeddedTmpl)
	if err != nil {
		t.Fatalf("template for %s does not parse: %v", *tmpl.DestPath, err)
	}
	var b strings.Builder
	if err := parsed.Execute(&b, nil); err != nil {
		t.Fatalf("template for %s: %v", *tmpl.DestPath, err)
	}
	return b.String()
}

// readEnvFile reads KEY="value" lines as Nomad's env-file parser
// (hashicorp/go-envparse) does for double-quoted values: escapes \\ \" \n
// \t, any other escape or a raw control character is an error.
func readEnvFile(t *testing.T, text string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		key, quoted, ok := strings.Cut(line, "=")
		if !ok || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
			t.Fatalf("env file line %d: %q is not KEY=\"value\"", n+1, line)
		}
		var v strings.Builder
		body := quoted[1 : len(quoted)-1]
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch {
			case c < 0x20:
				t.Fatalf("env file line %d: raw control character %q", n+1, c)
			case c == '"':
				t.Fatalf("env file line %d: unescaped quote", n+1)
			case c == '\\':
				i++
				esc, ok := map[byte]byte{'\\': '\\', '"': '"', 'n': '\n', 't': '\t'}[body[i]]
				if !ok {
					t.Fatalf("env file line %d: invalid escape \\%c", n+1, body[i])
				}
				v.WriteByte(esc)
			default:
				v.WriteByte(c)
			}
		}
		env[key] = v.String()
	}
	return env
}

func TestPlacement(t *testing.T) {
	t.Parallel()
	type cons = [3]string
	tests := []struct {
		name string
		a    engine.Attempt
		opts Options
		want []cons
	}{
		{
			name: "offering node class and capacity",
			a:    engine.Attempt{Choice: catalog.Choice{Offering: p4d, Spot: true}},
			want: []cons{{"${node.class}", "=", "sky-aws-us-east-1-p4d.24xlarge-spot"}, {"${meta.sky.capacity}", "=", "spot"}},
		},
		{
			name: "node meta without node classes",
			a:    engine.Attempt{Choice: catalog.Choice{Offering: m6i}},
			opts: Options{NoNodeClass: true},
			want: []cons{
				{"${meta.sky.cloud}", "=", "aws"}, {"${meta.sky.region}", "=", "us-west-2"},
				{"${meta.sky.instance_type}", "=", "m6i.large"}, {"${meta.sky.capacity}", "=", "on-demand"},
			},
		},
		{
			name: "this host takes no constraint",
			a:    engine.Attempt{Choice: catalog.Choice{Offering: localOffering}},
		},
		{
			name: "pool worker: the pool's node class",
			a:    engine.Attempt{Pool: "gpus", Task: task.Task{Pool: &task.PoolSpec{Workers: 2}}, Choice: catalog.Choice{Offering: p4d, Spot: true}},
			want: []cons{{"${node.class}", "=", "sky-pool-gpus"}},
		},
		{
			name: "pool worker on this host: any node",
			a:    engine.Attempt{Pool: "gpus", Task: task.Task{Pool: &task.PoolSpec{Workers: 2}}, Choice: catalog.Choice{Offering: localOffering}},
		},
		{
			name: "pool worker without node classes: the offering's node meta",
			a:    engine.Attempt{Pool: "cpus", Task: task.Task{Pool: &task.PoolSpec{Workers: 2}}, Choice: catalog.Choice{Offering: m6i}},
			opts: Options{NoNodeClass: true},
			want: []cons{
				{"${meta.sky.cloud}", "=", "aws"}, {"${meta.sky.region}", "=", "us-west-2"},
				{"${meta.sky.instance_type}", "=", "m6i.large"}, {"${meta.sky.capacity}", "=", "on-demand"},
			},
		},
		{
			name: "pool job: its worker's node",
			a:    engine.Attempt{Pool: "gpus", Worker: &engine.Ref{JobID: 2}, Choice: catalog.Choice{Offering: p4d}},
			opts: Options{Worker: &WorkerAlloc{AllocID: workerAlloc, NodeID: workerNode}},
			want: []cons{{"${node.unique.id}", "=", workerNode}, {"${node.class}", "=", "sky-pool-gpus"}},
		},
		{
			name: "pool job on this host: its worker's node",
			a:    engine.Attempt{Pool: "gpus", Worker: &engine.Ref{JobID: 2}, Choice: catalog.Choice{Offering: localOffering}},
			opts: Options{Worker: &WorkerAlloc{AllocID: workerAlloc, NodeID: workerNode}},
			want: []cons{{"${node.unique.id}", "=", workerNode}},
		},
		{
			name: "nodes on distinct hosts",
			a:    engine.Attempt{Task: task.Task{NumNodes: 4}, Choice: catalog.Choice{Offering: localOffering}},
			want: []cons{{"", "distinct_hosts", ""}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.a.Task.Name, tc.a.Task.Run = "t", "true"
			job, err := RenderJob(&tc.a, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []cons
			for _, c := range job.TaskGroups[0].Constraints {
				got = append(got, cons{c.LTarget, c.Operand, c.RTarget})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("constraints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNomadPriority(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ sky, nomad int }{
		{-1000, 1}, {-990, 1}, {-500, 25}, {0, 50}, {10, 51}, {500, 75}, {1000, 100},
	} {
		if got := nomadPriority(tc.sky); got != tc.nomad {
			t.Errorf("nomadPriority(%d) = %d, want %d", tc.sky, got, tc.nomad)
		}
	}
}

// TestGPUModelPattern checks the device constraint against model names
// Nomad's nvidia plugin reports.
func TestGPUModelPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		accelerator string
		match       []string
		noMatch     []string
	}{
		{"A100", []string{"NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"}, []string{"NVIDIA A10G"}},
		{"A100-80GB", []string{"NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"}, []string{"NVIDIA A100-SXM4-40GB"}},
		{"L4", []string{"NVIDIA L4"}, []string{"NVIDIA L40S"}},
		{"T4", []string{"Tesla T4"}, []string{"NVIDIA T400"}},
		{"V100", []string{"Tesla V100-SXM2-16GB"}, nil},
		{"H100", []string{"NVIDIA H100 80GB HBM3"}, []string{"NVIDIA H200"}},
		{"A10G", []string{"NVIDIA A10G"}, []string{"NVIDIA A100-SXM4-40GB"}},
	}
	for _, tc := range tests {
		re := regexp.MustCompile(gpuModelPattern(tc.accelerator))
		for _, m := range tc.match {
			if !re.MatchString(m) {
				t.Errorf("%s: pattern %s does not match %q", tc.accelerator, re, m)
			}
		}
		for _, m := range tc.noMatch {
			if re.MatchString(m) {
				t.Errorf("%s: pattern %s matches %q", tc.accelerator, re, m)
			}
		}
	}
}

func TestResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		res        task.Resources
		offering   catalog.Offering
		wantMemory int
		wantDisk   int // 0: no ephemeral_disk
		wantGPUs   uint64
	}{
		{name: "default memory", offering: m6i, wantMemory: 1024},
		{name: "requested memory", res: task.Resources{Memory: &task.Quantity{Value: 4}}, offering: m6i, wantMemory: 4096},
		{name: "capped to what the node reports", res: task.Resources{Memory: &task.Quantity{Value: 8, AtLeast: true}}, offering: m6i, wantMemory: 6963},
		{name: "disk size", res: task.Resources{DiskSizeGB: 100}, offering: m6i, wantMemory: 1024, wantDisk: 87040},
		{name: "no disk on this host", res: task.Resources{DiskSizeGB: 100}, offering: localOffering, wantMemory: 1024},
		{name: "fractional GPU rounds up", res: task.Resources{Accelerators: []task.Accelerator{{Name: "T4", Count: 0.5}}}, offering: m6i, wantMemory: 1024, wantGPUs: 1},
		{name: "TPUs take no Nomad device", res: task.Resources{Accelerators: []task.Accelerator{{Name: "tpu-v4-8", Count: 1}}}, offering: m6i, wantMemory: 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := engine.Attempt{
				Task:   task.Task{Name: "t", Setup: "true", Run: "true", Resources: tc.res},
				Choice: catalog.Choice{Offering: tc.offering},
			}
			job, err := RenderJob(&a, Options{})
			if err != nil {
				t.Fatal(err)
			}
			g := job.TaskGroups[0]
			for _, tk := range g.Tasks {
				if *tk.Resources.MemoryMB != tc.wantMemory {
					t.Errorf("task %s memory = %d MB, want %d", tk.Name, *tk.Resources.MemoryMB, tc.wantMemory)
				}
			}
			var disk int
			if g.EphemeralDisk != nil {
				disk = *g.EphemeralDisk.SizeMB
			}
			if disk != tc.wantDisk {
				t.Errorf("ephemeral disk = %d MB, want %d", disk, tc.wantDisk)
			}
			if setup := g.Tasks[0]; len(setup.Resources.Devices) > 0 {
				t.Errorf("setup task asks for devices %v; only run may", setup.Resources.Devices)
			}
			var gpus uint64
			for _, d := range g.Tasks[1].Resources.Devices {
				gpus += *d.Count
			}
			if gpus != tc.wantGPUs {
				t.Errorf("run task asks for %d GPUs, want %d", gpus, tc.wantGPUs)
			}
		})
	}
}

func TestRenderJobTasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     string
		skipSetup bool
		rawExec   bool
		want      []string // task name: hook
	}{
		{name: "setup and run", setup: "make", want: []string{"setup: prestart", "run: "}},
		{name: "no setup", want: []string{"run: "}},
		{name: "pool job skips setup", setup: "make", skipSetup: true, want: []string{"run: "}},
		{name: "raw_exec by config", setup: "make", rawExec: true, want: []string{"setup: prestart", "run: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := engine.Attempt{
				Task:      task.Task{Name: "t", Setup: tc.setup, Run: "true"},
				Choice:    catalog.Choice{Offering: localOffering},
				SkipSetup: tc.skipSetup,
			}
			opts := Options{}
			if tc.rawExec {
				opts.TaskDriver = "raw_exec"
			}
			job, err := RenderJob(&a, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tk := range job.TaskGroups[0].Tasks {
				hook := ""
				if tk.Lifecycle != nil {
					hook = tk.Lifecycle.Hook
				}
				got = append(got, tk.Name+": "+hook)
				if tc.rawExec {
					if args, _ := tk.Config["args"].([]any); tk.Driver != "raw_exec" || !slices.Equal(args, []any{"driver", "--phase", tk.Name}) {
						t.Errorf("task %s runs %s %v, want raw_exec skynomad driver --phase %s", tk.Name, tk.Driver, args, tk.Name)
					}
					continue
				}
				file := driver.ConfigRunFile
				if tk.Name == "setup" {
					file = driver.ConfigSetupFile
				}
				if tk.Driver != driver.PluginName || tk.Config[driver.ConfigPhase] != tk.Name || tk.Config[file] != "local/"+tk.Name+".sh" {
					t.Errorf("task %s: driver %s config %v, want skypilot with phase %s and %s", tk.Name, tk.Driver, tk.Config, tk.Name, file)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPoolWorker: a worker holds one node of its pool's class for its
// pool's jobs: the static worker port (one worker per node), a nominal
// resource ask and no GPU, setup then engine.WorkerRun, whatever run the
// pool file had.
func TestPoolWorker(t *testing.T) {
	t.Parallel()
	a := engine.Attempt{
		Ref: engine.Ref{JobID: 9, Attempt: 1}, JobName: "gpus", Pool: "gpus",
		Task: task.Task{
			Name: "gpus", Pool: &task.PoolSpec{Workers: 2}, Setup: "pip install vllm", Run: "echo ignored in a pool file",
			Resources: task.Resources{Accelerators: []task.Accelerator{{Name: "A100", Count: 8}}, Memory: &task.Quantity{Value: 512}},
		},
		Choice: catalog.Choice{Offering: p4d},
	}
	job, err := RenderJob(&a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *job.ID != "sky-9-0" || *job.Name != "gpus-worker" || *job.Type != "batch" {
		t.Errorf("job %s named %s, type %s; want sky-9-0 named gpus-worker, batch", *job.ID, *job.Name, *job.Type)
	}
	if job.Meta["sky.pool"] != "gpus" || job.Meta["sky.pool_worker"] != "true" {
		t.Errorf("meta %v: want sky.pool=gpus and sky.pool_worker=true", job.Meta)
	}
	g := job.TaskGroups[0]
	var ports []string
	for _, n := range g.Networks {
		for _, p := range n.ReservedPorts {
			ports = append(ports, fmt.Sprintf("%s=%d", p.Label, p.Value))
		}
		if len(n.DynamicPorts) > 0 {
			t.Errorf("dynamic ports %v", n.DynamicPorts)
		}
	}
	if diff := cmp.Diff([]string{"sky_pool_worker=19646"}, ports); diff != "" {
		t.Errorf("static ports (-want +got):\n%s", diff)
	}
	var tasks []string
	for _, tk := range g.Tasks {
		tasks = append(tasks, tk.Name)
		if *tk.Resources.CPU != workerCPUMHz || *tk.Resources.MemoryMB != workerMemoryMB || len(tk.Resources.Devices) > 0 {
			t.Errorf("task %s asks %d MHz, %d MB, devices %v; want the nominal %d MHz, %d MB, none",
				tk.Name, *tk.Resources.CPU, *tk.Resources.MemoryMB, tk.Resources.Devices, workerCPUMHz, workerMemoryMB)
		}
	}
	if diff := cmp.Diff([]string{"setup", "run"}, tasks); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if got := renderTemplate(t, templateAt(t, g.Tasks[1], "local/run.sh")); got != engine.WorkerRun {
		t.Errorf("the worker runs %q, want %q", got, engine.WorkerRun)
	}
}

// TestPoolJob: a job submitted to a pool runs beside its worker: on its
// node, in its alloc dir (worker_alloc, or the sibling path under
// raw_exec), without setup, asking the GPUs the worker left free.
func TestPoolJob(t *testing.T) {
	t.Parallel()
	job := func() engine.Attempt {
		return engine.Attempt{
			Ref: engine.Ref{JobID: 12, Attempt: 1}, JobName: "infer", Pool: "gpus", SkipSetup: true,
			Worker: &engine.Ref{JobID: 9, Attempt: 1},
			Task: task.Task{Name: "infer", Setup: "pip install vllm", Run: "python infer.py",
				Resources: task.Resources{Accelerators: []task.Accelerator{{Name: "A100", Count: 8}}, DiskSizeGB: 100}},
			Choice: catalog.Choice{Offering: p4d},
		}
	}
	where := &WorkerAlloc{AllocID: workerAlloc, NodeID: workerNode}

	a := job()
	j, err := RenderJob(&a, Options{Worker: where})
	if err != nil {
		t.Fatal(err)
	}
	g := j.TaskGroups[0]
	if len(g.Tasks) != 1 || g.Tasks[0].Name != "run" {
		t.Fatalf("tasks %v: want run alone", g.Tasks)
	}
	run := g.Tasks[0]
	if run.Config[driver.ConfigWorkerAlloc] != workerAlloc {
		t.Errorf("run config %v: want %s = %s", run.Config, driver.ConfigWorkerAlloc, workerAlloc)
	}
	if len(run.Resources.Devices) != 1 || *run.Resources.Devices[0].Count != 8 {
		t.Errorf("run asks devices %v, want the 8 GPUs", run.Resources.Devices)
	}
	if g.EphemeralDisk != nil || len(g.Networks) > 0 || j.Meta["sky.pool_worker"] != "" || *j.Name != *j.ID {
		t.Errorf("a pool job takes no disk (%v), no port (%v), is no worker (%q) and keeps its ID as its name (%s)",
			g.EphemeralDisk, g.Networks, j.Meta["sky.pool_worker"], *j.Name)
	}

	raw, err := RenderJob(&a, Options{Worker: where, TaskDriver: "raw_exec"})
	if err != nil {
		t.Fatal(err)
	}
	want := "${NOMAD_ALLOC_DIR}/../../" + workerAlloc + "/alloc/sky_workdir"
	if got := raw.TaskGroups[0].Tasks[0].Env[driver.EnvWorkdir]; got != want {
		t.Errorf("raw_exec workdir %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name string
		a    func() engine.Attempt
		opts Options
		want string
	}{
		{"unnamed pool worker", func() engine.Attempt {
			return engine.Attempt{Task: task.Task{Pool: &task.PoolSpec{Workers: 1}}, Choice: catalog.Choice{Offering: p4d}}
		}, Options{}, "the pool has no name"},
		{"pool job without its worker's place", func() engine.Attempt { return job() }, Options{}, "where its worker (job 9 task 0 attempt 1) runs is not known"},
		{"pool job naming no worker", func() engine.Attempt {
			a := job()
			a.Worker = nil
			return a
		}, Options{Worker: where}, "names no worker"},
		{"pool job in an image under raw_exec", func() engine.Attempt {
			a := job()
			a.Task.Resources.ImageID = "docker:python:3.12"
			return a
		}, Options{Worker: where, TaskDriver: "raw_exec"}, "only under the skypilot task driver"},
	} {
		a := tc.a()
		if _, err := RenderJob(&a, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestJobHCLNeedsAnID(t *testing.T) {
	t.Parallel()
	if _, err := JobHCL(&api.Job{}); err == nil {
		t.Error("JobHCL of a job without ID: no error")
	}
}
