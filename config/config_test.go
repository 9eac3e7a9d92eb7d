package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"SKYNOMAD_HOME wins", map[string]string{"SKYNOMAD_HOME": "/srv/sky", "HOME": "/root"}, "/srv/sky"},
		{"under HOME", map[string]string{"HOME": "/home/ada"}, "/home/ada/.skynomad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Home(env(tt.env))
			if err != nil || got != tt.want {
				t.Errorf("Home() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	const home = "/h"
	defaults := func(edit func(c *Config)) *Config {
		c := &Config{
			Controller: Controller{Address: "unix:///h/controller.sock"},
			Engine:     "local",
			Local:      Local{KeepAttempts: ptr(DefaultKeepAttempts)},
			Nomad: Nomad{
				TaskDriver:       "skypilot",
				RunnerPath:       "/usr/local/bin/skynomad",
				Datacenters:      []string{"*"},
				VolumeType:       "host",
				PlacementTimeout: Duration(5 * time.Minute),
			},
			Autoscaler: Autoscaler{
				Capacity: []string{"spot", "on-demand"}, MaxNodes: 8, EvaluationInterval: Duration(10 * time.Second),
				Cooldown: Duration(5 * time.Minute), NodeDrainDeadline: Duration(10 * time.Minute),
			},
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name    string
		file    *string // nil: no file
		env     map[string]string
		want    *Config
		wantErr string
		// wantHints are the lines under the error's headline.
		wantHints []string
	}{
		{name: "no file", want: defaults(nil)},
		{name: "empty file", file: ptr(""), want: defaults(nil)},
		{
			name: "every key",
			file: ptr(`controller:
  address: http://10.0.0.12:7780
  token: s3cret
engine: nomad
infra: [aws, gcp]
jobs:
  bucket: s3://my-bucket/skynomad
  launch_retries: 12
local:
  keep_attempts: 0
nomad:
  task_driver: raw_exec
  runner_path: /opt/skynomad
  datacenters: [dc1, dc2]
  node_pool: gpu
  volume_type: csi
  placement_timeout: 90s
autoscaler:
  infra: [aws/us-east-1]
  instance_types: [m6i.large]
  capacity: [spot]
  max_nodes: 4
  evaluation_interval: 5s
  cooldown: 1m
  node_drain_deadline: 2m
`),
			want: &Config{
				Controller: Controller{Address: "http://10.0.0.12:7780", Token: "s3cret"},
				Engine:     "nomad",
				Infra:      []string{"aws", "gcp"},
				Jobs:       Jobs{Bucket: "s3://my-bucket/skynomad", LaunchRetries: 12},
				Local:      Local{KeepAttempts: ptr(0)},
				Nomad: Nomad{
					TaskDriver:       "raw_exec",
					RunnerPath:       "/opt/skynomad",
					Datacenters:      []string{"dc1", "dc2"},
					NodePool:         "gpu",
					VolumeType:       "csi",
					PlacementTimeout: Duration(90 * time.Second),
				},
				Autoscaler: Autoscaler{
					Infra: []string{"aws/us-east-1"}, InstanceTypes: []string{"m6i.large"}, Capacity: []string{"spot"},
					MaxNodes: 4, EvaluationInterval: Duration(5 * time.Second), Cooldown: Duration(time.Minute),
					NodeDrainDeadline: Duration(2 * time.Minute),
				},
			},
		},
		{
			name: "environment overrides the file",
			file: ptr("controller:\n  address: http://a:1\n  token: file\n"),
			env:  map[string]string{"SKYNOMAD_CONTROLLER_ADDR": "https://b:2", "SKYNOMAD_CONTROLLER_TOKEN": "env"},
			want: defaults(func(c *Config) { c.Controller = Controller{Address: "https://b:2", Token: "env"} }),
		},
		{
			name:      "unknown top-level key",
			file:      ptr("engine: local\nengnie: nomad\n"),
			wantErr:   "/h/config.yaml:2:1: engnie: unknown key; accepted: autoscaler, catalog, controller, engine, infra, jobs, local, nomad",
			wantHints: []string{"accepted: autoscaler, catalog, controller, engine, infra, jobs, local, nomad"},
		},
		{
			name:      "unknown nested key",
			file:      ptr("controller:\n  adress: http://a:1\n"),
			wantErr:   "/h/config.yaml:2:3: controller.adress: unknown key; accepted: address, token",
			wantHints: []string{"accepted: address, token"},
		},
		{
			name:    "wrong type",
			file:    ptr("infra: aws\n"),
			wantErr: `/h/config.yaml:1:8: infra: expected a list, got "aws"`,
		},
		{
			name:    "section not a mapping",
			file:    ptr("nomad: [a]\n"),
			wantErr: "/h/config.yaml:1:8: nomad: expected a mapping, got a list",
		},
		{
			name:    "bad duration",
			file:    ptr("nomad:\n  placement_timeout: soon\n"),
			wantErr: `/h/config.yaml:2:22: nomad.placement_timeout: "soon" is not a positive duration (e.g. 90s, 5m)`,
		},
		{
			name:      "unknown task driver",
			file:      ptr("nomad:\n  task_driver: docker\n"),
			wantErr:   `/h/config.yaml:2:16: nomad.task_driver: "docker" is not a task driver skynomad renders; accepted: skypilot, raw_exec`,
			wantHints: []string{"accepted: skypilot, raw_exec"},
		},
		{
			name:      "unknown volume type",
			file:      ptr("nomad:\n  volume_type: nfs\n"),
			wantErr:   `/h/config.yaml:2:16: nomad.volume_type: "nfs" is not a Nomad volume type skynomad renders; accepted: host, csi`,
			wantHints: []string{"accepted: host, csi"},
		},
		{
			name:      "bad autoscaler capacity",
			file:      ptr("autoscaler:\n  capacity: [spot, reserved]\n"),
			wantErr:   `/h/config.yaml:2:13: autoscaler.capacity: "reserved" is not a capacity; accepted: spot, on-demand`,
			wantHints: []string{"accepted: spot, on-demand"},
		},
		{
			name:      "bad engine",
			file:      ptr("engine: k8s\n"),
			wantErr:   `/h/config.yaml:1:9: engine: "k8s" is not an engine; accepted: local, nomad`,
			wantHints: []string{"accepted: local, nomad"},
		},
		{
			name:    "bad address",
			file:    ptr("controller:\n  address: 10.0.0.1:7780\n"),
			wantErr: `/h/config.yaml:2:12: controller.address: "10.0.0.1:7780" is not unix:///path/to/socket or http(s)://host:port`,
		},
		{
			name:    "bad address from the environment",
			env:     map[string]string{"SKYNOMAD_CONTROLLER_ADDR": "ftp://x"},
			wantErr: `/h/config.yaml: controller.address: "ftp://x" is not unix:///path/to/socket or http(s)://host:port`,
		},
		{
			name:    "bad cloud",
			file:    ptr("infra: [aws/us-east-1]\n"),
			wantErr: `/h/config.yaml:1:8: infra: "aws/us-east-1" is not a cloud name (lower case, e.g. aws, gcp)`,
		},
		{
			name:    "bad bucket",
			file:    ptr("jobs:\n  bucket: my-bucket\n"),
			wantErr: `/h/config.yaml:2:11: jobs.bucket: "my-bucket" is not s3://bucket[/prefix], gs://bucket[/prefix], file:///dir or an absolute directory`,
		},
		{
			name:      "negative launch retries",
			file:      ptr("jobs:\n  launch_retries: -1\n"),
			wantErr:   `/h/config.yaml:2:19: jobs.launch_retries: -1 is negative; accepted: 0 (retry forever) or a number of tries`,
			wantHints: []string{"accepted: 0 (retry forever) or a number of tries"},
		},
		{
			name:    "not YAML",
			file:    ptr("engine: [\n"),
			wantErr: "/h/config.yaml:1:1: not valid YAML: did not find expected node content",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.file != nil {
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(*tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Load(dir, env(tt.env))
			// Errors and defaults name the real directory; show them as /h.
			if got != nil {
				got.Controller.Address = replaceDir(got.Controller.Address, dir, home)
			}
			gotErr := ""
			if err != nil {
				gotErr = replaceDir(err.Error(), dir, home)
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %v is not a config.Error", err)
				}
				if got := replaceDir(ce.Headline(), dir, home); !strings.HasPrefix(tt.wantErr, got) {
					t.Errorf("headline %q does not start the error %q", got, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantHints, ce.Hints()); diff != "" {
					t.Errorf("hints (-want +got):\n%s", diff)
				}
			}
			if gotErr != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPathsOf(t *testing.T) {
	t.Parallel()
	got := PathsOf("/h")
	want := Paths{
		Home: "/h", Config: "/h/config.yaml", Socket: "/h/controller.sock", State: "/h/state.db",
		Lock: "/h/controller.lock", PID: "/h/controller.pid", Log: "/h/controller.log", Token: "/h/controller.token", Local: "/h/local", Catalogs: "/h/catalogs",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PathsOf (-want +got):\n%s", diff)
	}
}

func ptr[T any](v T) *T { return &v }

func replaceDir(s, dir, with string) string { return strings.ReplaceAll(s, dir, with) }
