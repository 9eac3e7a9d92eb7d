package interrupt

import (
	"bytes"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	withAlloc := func(k string) string {
		if k == "NOMAD_ALLOC_ID" {
			return "alloc-1"
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	defaults := Config{
		Cloud: CloudAuto, IMDSEndpoint: DefaultAWSEndpoint, GCPEndpoint: DefaultGCPEndpoint, AzureEndpoint: DefaultAzureEndpoint,
		PollInterval: 5 * time.Second, AllocRoot: DefaultAllocRoot, AllocID: "alloc-1", OnRebalance: RebalanceIgnore, StopMargin: 5 * time.Second,
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	withRoot := func(root string) Config {
		c := defaults
		c.AllocRoot = root
		return c
	}
	tests := []struct {
		name    string
		args    []string
		getenv  func(string) string
		want    Config
		wantErr string
	}{
		{name: "defaults inside a Nomad task", getenv: withAlloc, want: defaults},
		{
			name: "every flag",
			args: []string{"--cloud", "AWS", "--imds-endpoint", "http://127.0.0.1:1338", "--gcp-endpoint", "http://127.0.0.1:1", "--azure-endpoint", "http://127.0.0.1:2",
				"--poll-interval", "1s", "--alloc-root", "/var/lib/nomad/alloc", "--node-id", "node-1", "--on-rebalance", "drain", "--stop-margin", "10s"},
			getenv: noEnv,
			want: Config{Cloud: CloudAWS, IMDSEndpoint: "http://127.0.0.1:1338", GCPEndpoint: "http://127.0.0.1:1", AzureEndpoint: "http://127.0.0.1:2",
				PollInterval: time.Second, AllocRoot: "/var/lib/nomad/alloc", NodeID: "node-1", OnRebalance: RebalanceDrain, StopMargin: 10 * time.Second},
		},
		{
			name:   "alloc root from a raw_exec task's own alloc dir",
			getenv: env(map[string]string{"NOMAD_ALLOC_ID": "alloc-1", "NOMAD_ALLOC_DIR": "/tmp/NomadClient1/alloc/alloc-1/alloc"}),
			want:   withRoot("/tmp/NomadClient1/alloc"),
		},
		{
			name:   "an isolated task's /alloc says nothing of the host path",
			getenv: env(map[string]string{"NOMAD_ALLOC_ID": "alloc-1", "NOMAD_ALLOC_DIR": "/alloc"}),
			want:   defaults,
		},
		{
			name:   "an alloc dir of another alloc is not ours",
			getenv: env(map[string]string{"NOMAD_ALLOC_ID": "alloc-1", "NOMAD_ALLOC_DIR": "/data/alloc/alloc-2/alloc"}),
			want:   defaults,
		},
		{
			name: "--alloc-root wins over the task's alloc dir", args: []string{"--alloc-root", "/var/lib/nomad/alloc"},
			getenv: env(map[string]string{"NOMAD_ALLOC_ID": "alloc-1", "NOMAD_ALLOC_DIR": "/tmp/NomadClient1/alloc/alloc-1/alloc"}),
			want:   withRoot("/var/lib/nomad/alloc"),
		},
		{name: "no node", getenv: noEnv, wantErr: "no node: pass --node-id or run as a Nomad task (NOMAD_ALLOC_ID)"},
		{name: "bad cloud", args: []string{"--cloud", "oci"}, getenv: withAlloc, wantErr: `--cloud "oci": want auto, aws, gcp or azure`},
		{name: "bad policy", args: []string{"--on-rebalance", "cordon"}, getenv: withAlloc, wantErr: `--on-rebalance "cordon": want ignore, ineligible or drain`},
		{name: "zero poll interval", args: []string{"--poll-interval", "0s"}, getenv: withAlloc, wantErr: "--poll-interval 0s: must be positive"},
		{name: "negative margin", args: []string{"--stop-margin", "-1s"}, getenv: withAlloc, wantErr: "--stop-margin -1s: must not be negative"},
		{name: "stray argument", args: []string{"now"}, getenv: withAlloc, wantErr: "unexpected arguments: now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			got, err := ParseFlags(tc.args, tc.getenv, &out)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseFlags error = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := ParseFlags([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v; want flag.ErrHelp", err)
	}
	for _, f := range []string{"-cloud", "-imds-endpoint", "-gcp-endpoint", "-azure-endpoint", "-poll-interval", "-alloc-root", "-node-id", "-on-rebalance", "-stop-margin"} {
		if !bytes.Contains(out.Bytes(), []byte(f)) {
			t.Errorf("help does not mention %s:\n%s", f, out.String())
		}
	}
}

func TestDetectCloud(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attrs map[string]string
		want  Cloud
		ok    bool
	}{
		{map[string]string{"platform.aws.instance-type": "m5.large", "cpu.arch": "amd64"}, CloudAWS, true},
		{map[string]string{"unique.platform.aws.instance-id": "i-0abc"}, CloudAWS, true},
		{map[string]string{"platform.gce.machine-type": "n2-standard-4"}, CloudGCP, true},
		{map[string]string{"platform.azure.vm-size": "Standard_D4s_v5"}, CloudAzure, true},
		{map[string]string{"unique.hostname": "vm", "sky.cloud": "aws"}, "", false},
	}
	for _, tc := range tests {
		got, ok := DetectCloud(tc.attrs)
		if got != tc.want || ok != tc.ok {
			t.Errorf("DetectCloud(%v) = %q, %v; want %q, %v", tc.attrs, got, ok, tc.want, tc.ok)
		}
	}
}
