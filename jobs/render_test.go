package jobs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
)

// pipelineYAML is a pipeline whose first task names a GPU instance type
// but asks for no GPU, and whose second carries a secret.
const pipelineYAML = `name: pipe
---
name: prepare
resources:
  instance_type: g5.xlarge
envs:
  STAGE: prepare
run: echo prepare
---
name: train
resources:
  accelerators: A10G:1
secrets:
  HF_TOKEN: hf-secret-value
run: echo train
`

// TestLaunchRendersWhatTranslateShows: for the same pipeline, job id and
// submission time, the Nomad job the controller's attempts render to is
// byte for byte what `skynomad translate` prints (render.Preview), every
// task carries sky.pipeline=true, and a task asking no GPU that is placed
// on a GPU offering sees the offering's GPU count in both.
func TestLaunchRendersWhatTranslateShows(t *testing.T) {
	t.Parallel()
	gpuHost := catalog.Offering{
		Cloud: "aws", Region: "us-east-1", InstanceType: "g5.xlarge", VCPUs: 4, MemoryGB: 16,
		GPU: "A10G", GPUCount: 1, OnDemandPrice: 1.006, SpotPrice: 0.45,
	}
	cat := catalog.New([]catalog.Offering{gpuHost})
	dag, err := translator.Load("pipe.yaml", []byte(pipelineYAML), translator.LoadOptions{Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Planner = cat })
	id := h.submit(*dag)
	job := h.waitTerminal(id)
	if job.Status != api.StatusSucceeded {
		t.Fatalf("job %d ended %s, want SUCCEEDED: %+v", id, job.Status, job.Tasks)
	}

	launched := h.launchesOf(id)
	if len(launched) != len(dag.Tasks) {
		t.Fatalf("the controller launched %d attempts (%v), want one per task", len(launched), refs(launched))
	}
	previews, err := render.Preview(dag, render.PreviewOptions{JobID: id, Submitted: job.SubmittedAt, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range previews {
		a := launched[i]
		if a.Ref != p.Attempt.Ref {
			t.Fatalf("launch %d is %s, translate shows %s", i, a.Ref, p.Attempt.Ref)
		}
		got := renderJSON(t, &a)
		want, err := render.JobJSON(p.Job)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("task %d: the controller's Nomad job differs from translate's (-translate +controller):\n%s", i, diff)
		}
		if v := p.Job.Meta[naming.MetaPipeline]; v != "true" {
			t.Errorf("task %d: meta %s = %q, want \"true\"", i, naming.MetaPipeline, v)
		}
		for who, at := range map[string]*engine.Attempt{"controller": &a, "translate": p.Attempt} {
			if v := envValue(at.Env, "SKYPILOT_NUM_GPUS_PER_NODE"); v != "1" {
				t.Errorf("task %d (%s): SKYPILOT_NUM_GPUS_PER_NODE = %q, want 1 (the A10G of %s)", i, who, v, gpuHost.InstanceType)
			}
		}
		if strings.Contains(got, "hf-secret-value") {
			t.Errorf("task %d: the rendered job holds the secret's value", i)
		}
	}
	if s := launched[1].Secrets; len(s) != 1 || s[0].Name != "HF_TOKEN" {
		t.Errorf("task 1's attempt carries secrets %v, want HF_TOKEN", s)
	}
}

func renderJSON(t *testing.T, a *engine.Attempt) string {
	t.Helper()
	job, err := render.RenderJob(a, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.JobJSON(job)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func envValue(env []task.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
