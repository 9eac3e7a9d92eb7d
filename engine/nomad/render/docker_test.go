package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/task"
)

var (
	a100Docker = &task.DockerOptions{
		ShmSize: 16 << 30, IPCMode: "host", CapAdd: []string{"IPC_LOCK"},
		Devices: []task.DockerDevice{{HostPath: "/dev/infiniband/uverbs0"}},
		Volumes: []string{"/mnt/nvme:/scratch:ro"}, Ulimits: map[string]string{"memlock": "-1:-1", "stack": "67108864"},
		Env: []task.EnvVar{{Name: "NCCL_DEBUG", Value: "INFO"}, {Name: "EPOCHS", Value: "1"}},
	}
	a100Labels = task.Resources{
		ImageID:      "docker:nvcr.io/nvidia/pytorch:24.05-py3",
		Accelerators: []task.Accelerator{{Name: "A100", Count: 8}},
		Labels:       map[string]string{"team": "research"},
		CloudLabels: map[string]map[string]string{
			"aws": {"team": "platform", "cost-center": "1234"},
			"gcp": {"team": "platform", "gcp-only": "yes"},
		},
	}
)

// configAttempts cover a task's `config:` (docker.run_options, labels) and
// its volumes; each has golden JSON and HCL in testdata/.
var configAttempts = []struct {
	name string
	opts Options
	a    engine.Attempt
}{
	{
		// The skypilot driver runs the container: the options are its
		// config, the volume a host volume linked into the container.
		name: "config-docker",
		a: engine.Attempt{
			Ref: engine.Ref{JobID: 9, Task: 0, Attempt: 1}, JobName: "train-in-container",
			Task: task.Task{
				Name: "train-in-container", NumNodes: 2, Run: "python train.py\n",
				Resources: a100Labels, Docker: a100Docker,
				Volumes: []task.Volume{{Path: "/data", Name: "datasets"}},
			},
			Choice: catalog.Choice{Offering: p4d, Spot: true},
			Env:    []task.EnvVar{{Name: "EPOCHS", Value: "50"}},
		},
	},
	{
		// Under raw_exec an image runs under Nomad's docker driver: the
		// same options, as its config.
		name: "config-docker-driver",
		opts: Options{TaskDriver: "raw_exec"},
		a: engine.Attempt{
			Ref: engine.Ref{JobID: 9, Task: 0, Attempt: 1}, JobName: "train-in-container",
			Task: task.Task{
				Name: "train-in-container", NumNodes: 1, Setup: "pip install -r requirements.txt\n", Run: "python train.py\n",
				Resources: a100Labels, Docker: a100Docker,
				Volumes: []task.Volume{{Path: "/data", Name: "datasets"}},
			},
			Choice: catalog.Choice{Offering: p4d},
		},
	},
	{
		// CSI volumes of a multi-node task on the host; accelerator_args
		// go to the capacity plugin.
		name: "volumes-csi",
		opts: Options{VolumeType: VolumeCSI},
		a: engine.Attempt{
			Ref: engine.Ref{JobID: 4, Task: 0, Attempt: 2}, JobName: "with-volumes",
			Task: task.Task{
				Name: "with-volumes", NumNodes: 2, Setup: "ls /mnt/data\n", Run: "ls /mnt/data /mnt/ckpt\n",
				Volumes: []task.Volume{{Path: "/mnt/data", Name: "training-data"}, {Path: "/mnt/ckpt", Name: "checkpoints"}},
				Resources: task.Resources{
					Accelerators:    []task.Accelerator{{Name: "A100", Count: 8}},
					AcceleratorArgs: &task.AcceleratorArgs{RuntimeVersion: "tpu-vm-base", TPUVM: new(true)},
				},
			},
			Choice: catalog.Choice{Offering: p4d},
		},
	},
}

func TestRenderConfigGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range configAttempts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := tc.a
			job, err := RenderJob(&a, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
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

// TestConfigJobJSONRoundTrips: the JSON of these jobs is what the API
// client would send.
func TestConfigJobJSONRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range configAttempts {
		a := tc.a
		job, err := RenderJob(&a, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		js, err := JobJSON(job)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Job *api.Job }
		if err := json.Unmarshal(js, &got); err != nil {
			t.Fatal(err)
		}
		for _, g := range job.TaskGroups {
			for _, tk := range g.Tasks {
				b, _ := json.Marshal(tk.Config)
				tk.Config = nil
				_ = json.Unmarshal(b, &tk.Config)
			}
		}
		if diff := cmp.Diff(job, got.Job); diff != "" {
			t.Errorf("%s after a JSON round trip (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestLabelsFollowTheChosenCloud: the instances the capacity plugin starts
// carry config.<cloud>.labels of the cloud chosen, under the task's own
// resources.labels.
func TestLabelsFollowTheChosenCloud(t *testing.T) {
	t.Parallel()
	for cloud, want := range map[string]map[string]string{
		"aws":   {"team": "research", "cost-center": "1234"},
		"gcp":   {"team": "research", "gcp-only": "yes"},
		"local": {"team": "research"},
	} {
		a := engine.Attempt{
			Task:   task.Task{Name: "t", Run: "true", Resources: a100Labels},
			Choice: catalog.Choice{Offering: catalog.Offering{Cloud: cloud, Region: "r", InstanceType: "i"}},
		}
		a.Task.Resources.ImageID = ""
		job, err := RenderJob(&a, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(job.Meta[naming.MetaLabels]), &got); err != nil {
			t.Fatalf("%s: meta %s = %q: %v", cloud, naming.MetaLabels, job.Meta[naming.MetaLabels], err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: labels (-want +got):\n%s", cloud, diff)
		}
	}
}

// TestDockerEnvUnderTaskEnv: -e values reach the container's tasks, and a
// task env of the same name wins.
func TestDockerEnvUnderTaskEnv(t *testing.T) {
	t.Parallel()
	a := configAttempts[0].a
	job, err := RenderJob(&a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := readEnvFile(t, renderTemplate(t, templateAt(t, job.TaskGroups[0].Tasks[0], envFilePath)))
	if got["NCCL_DEBUG"] != "INFO" || got["EPOCHS"] != "50" {
		t.Errorf("NCCL_DEBUG=%q EPOCHS=%q, want INFO and the task's 50", got["NCCL_DEBUG"], got["EPOCHS"])
	}
}

// TestCheckRefusesWhatNomadCannotDo: each form Nomad cannot honour is
// refused at submission with the field named, not dropped.
func TestCheckRefusesWhatNomadCannotDo(t *testing.T) {
	t.Parallel()
	onHost := task.Task{Name: "t", Run: "true"}
	inImage := onHost
	inImage.Resources.ImageID = "docker:ubuntu"
	with := func(t task.Task, change func(*task.Task)) task.Task { change(&t); return t }
	tests := []struct {
		name string
		t    task.Task
		opts Options
		want string // "" means accepted
	}{
		{"a named volume", with(onHost, func(t *task.Task) { t.Volumes = []task.Volume{{Path: "/d", Name: "v"}} }), Options{}, ""},
		{"an ephemeral volume", with(onHost, func(t *task.Task) { t.Volumes = []task.Volume{{Path: "/d", SizeGB: 10}} }), Options{},
			"volumes /d: an ephemeral volume (size) cannot be made by a Nomad job"},
		{"a sub_path", with(onHost, func(t *task.Task) { t.Volumes = []task.Volume{{Path: "/d", Name: "v", SubPath: "x"}} }), Options{},
			"sub_path x: Nomad 1.6 mounts a volume's root only"},
		{"a volume under raw_exec", with(onHost, func(t *task.Task) { t.Volumes = []task.Volume{{Path: "/d", Name: "v"}} }),
			Options{TaskDriver: "raw_exec"}, "the raw_exec task driver mounts no volumes"},
		{"a volume in an image under raw_exec", with(inImage, func(t *task.Task) { t.Volumes = []task.Volume{{Path: "/d", Name: "v"}} }),
			Options{TaskDriver: "raw_exec"}, ""},
		{"--gpus under the docker driver without accelerators", with(inImage, func(t *task.Task) { t.Docker = &task.DockerOptions{GPUs: "all"} }),
			Options{TaskDriver: "raw_exec"}, "--gpus all: Nomad's docker driver gives a task the GPUs it asks for"},
		{"--gpus under the skypilot driver", with(inImage, func(t *task.Task) { t.Docker = &task.DockerOptions{GPUs: "all"} }), Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.t, tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v, want accepted", err)
			case tt.want != "" && (!engine.IsInfeasible(err) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check: %v, want an infeasible error with %q", err, tt.want)
			}
			if tt.want == "" {
				return
			}
			// Rendering the attempt refuses it the same way.
			a := engine.Attempt{Task: tt.t, Choice: catalog.Choice{Offering: localOffering}}
			if _, err := RenderJob(&a, tt.opts); !engine.IsInfeasible(err) {
				t.Errorf("RenderJob: %v, want the infeasible error", err)
			}
		})
	}
}
