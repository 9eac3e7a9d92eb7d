package taskdriver

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/helper/pluginutils/hclutils"
	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/render"
	sky "github.com/skynomad/skynomad/task"
)

// TestRenderedDockerOptionsReachDockerRun: the docker options the renderer
// writes into a task's config decode under this plugin's spec and become
// the `docker run` flags of the task's container.
func TestRenderedDockerOptionsReachDockerRun(t *testing.T) {
	t.Parallel()
	a := engine.Attempt{
		Ref: engine.Ref{JobID: 1}, JobName: "train",
		Task: sky.Task{
			Name: "train", NumNodes: 1, Run: "python train.py",
			Resources: sky.Resources{ImageID: "docker:nvcr.io/nvidia/pytorch:24.05-py3"},
			Docker: &sky.DockerOptions{
				ShmSize: 16 << 30, IPCMode: "host", Privileged: true, Init: true,
				CapAdd: []string{"SYS_ADMIN"}, Devices: []sky.DockerDevice{{HostPath: "/dev/fuse"}, {HostPath: "/dev/nvidia0", ContainerPath: "/dev/gpu0", CgroupPermissions: "rw"}},
				GPUs: "all", Volumes: []string{"/mnt/nvme:/scratch:ro"}, Ulimits: map[string]string{"memlock": "-1:-1", "stack": "67108864"},
				Sysctls: map[string]string{"net.core.somaxconn": "1024"}, SecurityOpt: []string{"seccomp=unconfined"},
			},
			Volumes: []sky.Volume{{Path: "/data", Name: "datasets"}},
		},
		Choice: catalog.Choice{Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge"}},
	}
	job, err := render.RenderJob(&a, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := job.TaskGroups[0].Tasks[0]
	raw, err := json.Marshal(map[string]any{"Config": run.Config})
	if err != nil {
		t.Fatal(err)
	}
	var tc TaskConfig
	// Nomad has interpolated ${NOMAD_ALLOC_DIR} by now; the parser would
	// read it as a variable.
	hclutils.NewConfigParser(taskConfigSpec).ParseJson(t, strings.ReplaceAll(string(raw), "${", "$${"), &tc)
	if err := tc.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	pc := PluginConfig{DockerAllowPrivileged: true, DockerAllowCaps: []string{"ALL"}, DockerVolumes: true}
	// Nomad hands the plugin the task's volume_mount as a mount config.
	mounts := []*drivers.MountConfig{{HostPath: "/opt/nomad/volumes/datasets", TaskPath: *run.VolumeMounts[0].Destination}}
	got, err := dockerOptionArgs(&tc, pc, mounts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--privileged", "--init", "--shm-size=17179869184", "--ipc=host", "--cap-add=SYS_ADMIN",
		"--device=/dev/fuse", "--device=/dev/nvidia0:/dev/gpu0:rw", "--gpus=all",
		"--ulimit=memlock=-1:-1", "--ulimit=stack=67108864", "--sysctl=net.core.somaxconn=1024", "--security-opt=seccomp=unconfined",
		"-v", "/mnt/nvme:/scratch:ro", "-v", "/opt/nomad/volumes/datasets:/data",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docker run flags (-want +got):\n%s", diff)
	}
}

// TestDockerBlocksFromAJobspec: `nomad job run` of an HCL jobspec hands
// ulimit, sysctl and devices over as lists of objects (the API as an
// object): both decode.
func TestDockerBlocksFromAJobspec(t *testing.T) {
	t.Parallel()
	var tc TaskConfig
	hclutils.NewConfigParser(taskConfigSpec).ParseJson(t, `{"Config": {
  "phase": "run", "run_file": "r.sh", "image": "ubuntu",
  "ulimit": [{"nofile": "1024:2048"}],
  "sysctl": [{"net.core.somaxconn": "1024"}],
  "devices": [{"host_path": "/dev/fuse"}, {"host_path": "/dev/nvidia0", "container_path": "/dev/gpu0"}]
}}`, &tc)
	if err := tc.validate(); err != nil {
		t.Fatal(err)
	}
	got, err := dockerOptionArgs(&tc, PluginConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--device=/dev/fuse", "--device=/dev/nvidia0:/dev/gpu0", "--ulimit=nofile=1024:2048", "--sysctl=net.core.somaxconn=1024"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docker run flags (-want +got):\n%s", diff)
	}
}

// TestDockerOptionsNeedThePluginsLeave: what would give a container more of
// the node is refused unless the plugin config allows it.
func TestDockerOptionsNeedThePluginsLeave(t *testing.T) {
	t.Parallel()
	defaults := PluginConfig{DockerAllowCaps: DefaultAllowCaps}
	tests := []struct {
		name string
		tc   TaskConfig
		want string
	}{
		{"privileged", TaskConfig{Privileged: true}, "docker_allow_privileged = false"},
		{"a capability beyond the defaults", TaskConfig{CapAdd: []string{"sys_admin"}}, "capability SYS_ADMIN is not allowed"},
		{"a host path", TaskConfig{Volumes: []string{"/etc:/host-etc"}}, "docker_volumes = false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dockerOptionArgs(&tt.tc, defaults, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
	got, err := dockerOptionArgs(&TaskConfig{CapAdd: []string{"net_bind_service"}}, defaults, nil)
	if err != nil || !cmp.Equal(got, []string{"--cap-add=NET_BIND_SERVICE"}) {
		t.Errorf("a default capability: %v, %v", got, err)
	}
}

func TestValidateDockerOptions(t *testing.T) {
	t.Parallel()
	base := TaskConfig{Phase: "run", RunFile: "r.sh", NumNodes: 1, NodeRank: -1, Image: "docker:ubuntu"}
	tests := []struct {
		name   string
		change func(*TaskConfig)
		want   string
	}{
		{"options without an image", func(c *TaskConfig) { c.Image = ""; c.IPCMode = "host" }, "docker options (ipc_mode, ...) need an image"},
		{"another network", func(c *TaskConfig) { c.NetworkMode = "bridge" }, "network_mode = bridge: want host"},
		{"an ipc mode docker lacks", func(c *TaskConfig) { c.IPCMode = "shared" }, "ipc_mode = shared"},
		{"a relative bind mount", func(c *TaskConfig) { c.Volumes = []string{"data:/data"} }, "want HOST:CONTAINER[:ro]"},
		{"a device by name", func(c *TaskConfig) { c.Devices = []map[string]string{{"host_path": "fuse"}} }, "want host_path, an absolute path"},
		{"a bad ulimit", func(c *TaskConfig) { c.Ulimit = map[string]string{"nofile": "lots"} }, "want soft[:hard]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base
			tt.change(&c)
			if err := c.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
