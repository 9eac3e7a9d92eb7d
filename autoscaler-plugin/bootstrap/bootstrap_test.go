package bootstrap

import (
	"flag"
	"github.com/skynomad/skynomad/internal/golden"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		v      Values
	}{
		{"aws-spot.sh", Values{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", Capacity: "spot",
			NodeClass: "sky-aws-us-east-1-m6i.large-spot", NomadServers: []string{"10.0.0.10:4647", "10.0.0.11:4647"},
			SkynomadURL: "https://example.com/skynomad", PluginURL: "https://example.com/skypilot"}},
		{"gcp-on-demand.sh", Values{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-8", Capacity: "on-demand",
			NodeClass: "sky-gcp-us-central1-n2-standard-8-on-demand", Datacenter: "gcp-dc", NomadServers: []string{"nomad.internal:4647"}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			got, err := Render(DefaultTemplate, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			golden.Check(t, path, got, *update)
			// bash itself must accept the script.
			if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", path, err, out)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	base := Values{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", Capacity: "spot",
		NodeClass: "sky-aws-us-east-1-m6i.large-spot", NomadServers: []string{"10.0.0.10:4647"}}
	tests := []struct {
		name, want string
		mod        func(*Values)
		tmpl       string
	}{
		{"no servers", "nomad_servers: required", func(v *Values) { v.NomadServers = nil }, DefaultTemplate},
		{"shell in a value", `datacenter: "dc1\"; rm -rf /" has characters`, func(v *Values) { v.Datacenter = `dc1"; rm -rf /` }, DefaultTemplate},
		{"unknown field", "bootstrap template:", func(*Values) {}, "{{.Nope}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base
			tt.mod(&v)
			_, err := Render(tt.tmpl, v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want %q", err, tt.want)
			}
		})
	}
}
