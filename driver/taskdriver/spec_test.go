package taskdriver

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/nomad/helper/pluginutils/hclutils"
)

func TestTaskConfigSpec(t *testing.T) {
	t.Parallel()
	var got TaskConfig
	// As the API (and the jobspec's HCL2) hands the config to the plugin.
	hclutils.NewConfigParser(taskConfigSpec).ParseJson(t, `{"Config": {
  "phase": "run",
  "run_file": "local/run.sh",
  "task_name": "train",
  "num_nodes": 2,
  "node_ips": ["10.0.0.1", "10.0.0.2"],
  "workdir": "/alloc/sky_workdir",
  "env": {"A": "1"},
  "cluster_info": "{}",
  "image": "docker:ubuntu:22.04",
  "grace": "20s",
  "worker_alloc": "5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11"
}}`, &got)
	want := TaskConfig{Phase: "run", RunFile: "local/run.sh", TaskName: "train", NumNodes: 2, NodeRank: -1,
		NodeIPs: []string{"10.0.0.1", "10.0.0.2"}, Workdir: "/alloc/sky_workdir", Env: map[string]string{"A": "1"},
		ClusterInfo: "{}", Image: "docker:ubuntu:22.04", Grace: "20s", WorkerAlloc: "5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11"}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("decoded config (-want +got):\n%s", diff)
	}
	if err := got.validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	if got.image() != "ubuntu:22.04" {
		t.Errorf("image() = %q, want ubuntu:22.04", got.image())
	}
}

func TestTaskConfigDefaults(t *testing.T) {
	t.Parallel()
	var got TaskConfig
	hclutils.NewConfigParser(taskConfigSpec).ParseHCL(t, `config {
  setup_file = "local/setup.sh"
}`, &got)
	if got.Phase != "all" || got.NumNodes != 1 || got.NodeRank != -1 {
		t.Errorf("defaults: phase %q, num_nodes %d, node_rank %d; want all, 1, -1", got.Phase, got.NumNodes, got.NodeRank)
	}
}

func TestTaskConfigRefusals(t *testing.T) {
	t.Parallel()
	ok := TaskConfig{Phase: "run", RunFile: "r.sh", NumNodes: 2, NodeRank: -1}
	tests := []struct {
		name   string
		change func(*TaskConfig)
		want   string
	}{
		{"unknown phase", func(c *TaskConfig) { c.Phase = "deploy" }, `config phase = "deploy": want setup, run or all`},
		{"no script", func(c *TaskConfig) { c.RunFile = "" }, "neither setup_file nor run_file is set"},
		{"no nodes", func(c *TaskConfig) { c.NumNodes = 0 }, "num_nodes = 0: want 1 or more"},
		{"rank out of range", func(c *TaskConfig) { c.NodeRank = 2 }, "node_rank = 2: want less than num_nodes (2)"},
		{"addresses for the wrong count", func(c *TaskConfig) { c.NodeIPs = []string{"a"} }, "node_ips lists 1 addresses for 2 nodes"},
		{"bad grace", func(c *TaskConfig) { c.Grace = "soon" }, `grace = "soon": want a duration`},
		{"bad env name", func(c *TaskConfig) { c.Env = map[string]string{"A=B": "x"} }, `env: "A=B" is not a variable name`},
		{"worker alloc out of the alloc root", func(c *TaskConfig) { c.WorkerAlloc = "../../etc" }, `worker_alloc = "../../etc": not an allocation ID`},
		{"worker alloc with a path", func(c *TaskConfig) { c.WorkerAlloc = "5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11/alloc" }, "not an allocation ID"},
		{"worker alloc in upper case", func(c *TaskConfig) { c.WorkerAlloc = "5D1E0C4E-3F7A-4F7C-9D61-2B9F0E6A7C11" }, "not an allocation ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate() = %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := ok.validate(); err != nil {
		t.Errorf("a good config is refused: %v", err)
	}
}

func TestPluginConfigSpec(t *testing.T) {
	t.Parallel()
	var got PluginConfig
	hclutils.NewConfigParser(pluginConfigSpec).ParseHCL(t, `config {
  user          = "ubuntu"
  cloud         = "aws"
  zone          = "us-east-1b"
  capacity      = "spot"
}`, &got)
	want := PluginConfig{User: "ubuntu", Metadata: "auto", AWSMetadataEndpoint: DefaultAWSMetadataEndpoint,
		GCPMetadataEndpoint: DefaultGCPMetadataEndpoint, Cloud: "aws", Zone: "us-east-1b", Capacity: "spot", Docker: "docker",
		DockerAllowCaps: DefaultAllowCaps}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded plugin config (-want +got):\n%s", diff)
	}
	for _, bad := range []PluginConfig{{Metadata: "azure"}, {Metadata: "none", Capacity: "reserved"}} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
}

func TestSignalByName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"SIGTERM": "terminated", "term": "terminated", "15": "terminated", "SIGUSR1": "user defined signal 1"} {
		sig, err := signalByName(in)
		if err != nil || sig.String() != want {
			t.Errorf("signalByName(%q) = %v, %v; want %s", in, sig, err, want)
		}
	}
	for _, bad := range []string{"SIGNOPE", "0", "99", ""} {
		if _, err := signalByName(bad); err == nil {
			t.Errorf("signalByName(%q) accepted", bad)
		}
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{"/a/alloc": true, "/a/alloc/sky_workdir": true, "/a/alloc/../etc": false,
		"/etc": false, "/a/allocx": false, "/a": false} {
		if got := within("/a/alloc", path); got != want {
			t.Errorf("within(/a/alloc, %s) = %v, want %v", path, got, want)
		}
	}
}
