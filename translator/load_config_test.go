package translator

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/task"
)

// TestFieldWarnings: each key of config: with no effect, each volume
// field ignored and a managed job's autostop get exactly one warning that
// names it, in the order written.
func TestFieldWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"good/config-docker.yaml", []string{
			"good/config-docker.yaml:24:5: config.aws.remote_identity: has no effect on Nomad; ignored",
			"good/config-docker.yaml:29:5: config.kubernetes.pod_config: has no effect on Nomad; ignored",
			"good/config-docker.yaml:32:5: config.kubernetes.provision_timeout: has no effect on Nomad; ignored",
			"good/config-docker.yaml:34:5: config.nvidia_gpus.disable_ecc: has no effect on Nomad; ignored",
		}},
		{"good/config-no-image.yaml", []string{
			"good/config-no-image.yaml:7:5: config.gcp.managed_instance_group: has no effect on Nomad; ignored",
			"good/config-no-image.yaml:9:3: config.active_workspace: has no effect on Nomad; ignored",
			"good/config-no-image.yaml:5:5: config.docker.run_options: applies to a task that runs in a docker image " +
				"(resources.image_id: docker:<image>); this task runs in none: ignored",
		}},
		{"good/volumes.yaml", []string{
			"good/volumes.yaml:12:5: volumes./scratch.type: has no effect on Nomad; ignored",
		}},
		// Decoded once per any_of candidate, warned about once.
		{"good/autostop-dict.yaml", []string{
			"good/autostop-dict.yaml:4:3: resources.autostop: has no effect on a managed job, whose nodes end with the job; ignored",
		}},
		{"good/accelerator-args.yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			var got []string
			if _, err := loadCase(t, filepath.Join("testdata", tt.file), LoadOptions{Warn: func(s string) { got = append(got, s) }}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDockerRunOptions reads run_options as docker's CLI would.
func TestDockerRunOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts string
		want task.DockerOptions
	}{
		{"--shm-size=16g --ipc=host", task.DockerOptions{ShmSize: 16 << 30, IPCMode: "host"}},
		{"--shm-size 512m", task.DockerOptions{ShmSize: 512 << 20}},
		{"--shm-size=1.5GiB", task.DockerOptions{ShmSize: 3 << 29}},
		{"--shm-size=1073741824", task.DockerOptions{ShmSize: 1 << 30}},
		{"--privileged --init=false", task.DockerOptions{Privileged: true}},
		{"--net=host --pid host", task.DockerOptions{NetworkMode: "host", PIDMode: "host"}},
		{"--cap-add=sys_admin,CAP_IPC_LOCK --cap-add SYS_ADMIN --cap-drop=NET_RAW",
			task.DockerOptions{CapAdd: []string{"SYS_ADMIN", "IPC_LOCK"}, CapDrop: []string{"NET_RAW"}}},
		{"--device=/dev/fuse --device /dev/nvidia0:/dev/gpu0:rw --device=/dev/kvm:rwm",
			task.DockerOptions{Devices: []task.DockerDevice{
				{HostPath: "/dev/fuse"},
				{HostPath: "/dev/nvidia0", ContainerPath: "/dev/gpu0", CgroupPermissions: "rw"},
				{HostPath: "/dev/kvm", CgroupPermissions: "rwm"},
			}}},
		{"--gpus all --runtime=nvidia", task.DockerOptions{GPUs: "all", Runtime: "nvidia"}},
		{`--gpus '"device=0,1"'`, task.DockerOptions{GPUs: `"device=0,1"`}},
		{"-v /a:/b -v=/c:/d:rw --volume /e:/f:ro", task.DockerOptions{Volumes: []string{"/a:/b", "/c:/d", "/e:/f:ro"}}},
		{`-e A=1 --env "B=two words" -eC= --env=D=x=y`, task.DockerOptions{Env: []task.EnvVar{
			{Name: "A", Value: "1"}, {Name: "B", Value: "two words"}, {Name: "C"}, {Name: "D", Value: "x=y"}}}},
		{"--ulimit memlock=-1:-1 --ulimit nofile=65536", task.DockerOptions{Ulimits: map[string]string{"memlock": "-1:-1", "nofile": "65536"}}},
		{"--sysctl net.core.somaxconn=1024", task.DockerOptions{Sysctls: map[string]string{"net.core.somaxconn": "1024"}}},
		{"--security-opt seccomp=unconfined --security-opt=apparmor:unconfined",
			task.DockerOptions{SecurityOpt: []string{"seccomp=unconfined", "apparmor:unconfined"}}},
	}
	for _, tt := range tests {
		t.Run(tt.opts, func(t *testing.T) {
			t.Parallel()
			got, err := loadRunOptions(t, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDockerRunOptionsRefused(t *testing.T) {
	t.Parallel()
	for opts, want := range map[string]string{
		"--mount type=tmpfs,target=/x": `"--mount" is not a docker run option`,
		"--shm-size":                   "--shm-size needs a value",
		"--shm-size=lots":              `"lots" is not a size`,
		"--ipc=container:db":           `"container:db" is not one of host, private, shareable, none`,
		"--network=bridge":             "shares its node's network",
		"-v data:/data":                "is not a bind mount HOST:CONTAINER",
		"-v /a:/b:z":                   `mode "z" is not ro or rw`,
		"-e TOKEN":                     "give NAME=VALUE",
		"--ulimit nofile=many":         "limits are whole numbers",
		"--ulimit files=1":             "is not NAME=SOFT[:HARD]",
		"--device fuse":                "device paths are absolute",
		"--privileged=maybe":           `"maybe" is not true or false`,
		"ubuntu --rm":                  `"ubuntu" is not an option`,
		`--shm-size="1g`:               "unterminated double quote",
		"--cap-add=sys-admin":          "is not a capability",
	} {
		t.Run(opts, func(t *testing.T) {
			t.Parallel()
			_, err := loadRunOptions(t, opts)
			if err == nil || !strings.Contains(err.Error(), want) || !located.MatchString(err.Error()) {
				t.Errorf("error = %v, want a located error containing %q", err, want)
			}
		})
	}
}

// loadRunOptions loads a task in an image with run_options opts.
func loadRunOptions(t *testing.T, opts string) (*task.DockerOptions, error) {
	t.Helper()
	doc := "resources:\n  image_id: docker:ubuntu\nconfig:\n  docker:\n    run_options: '" + strings.ReplaceAll(opts, "'", "''") + "'\nrun: 'true'\n"
	dag, err := Load("task.yaml", []byte(doc), LoadOptions{})
	if err != nil {
		return nil, err
	}
	if dag.Tasks[0].Docker == nil {
		t.Fatal("no docker options")
	}
	return dag.Tasks[0].Docker, nil
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"":                       nil,
		"  a  b\tc\n":            {"a", "b", "c"},
		`-e "A=x y" -e 'B=$C'`:   {"-e", "A=x y", "-e", "B=$C"},
		`a\ b "q\"uote" 'it''s'`: {"a b", `q"uote`, "its"},
		`--opt=""`:               {"--opt="},
	} {
		got, err := shellWords(in)
		if err != nil {
			t.Errorf("shellWords(%q): %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("shellWords(%q) (-want +got):\n%s", in, diff)
		}
	}
}
