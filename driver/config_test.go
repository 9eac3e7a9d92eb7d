package driver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	base := Config{TaskName: "task", NumNodes: 1, Grace: DefaultGrace, LockFD: -1, DiscoveryTimeout: DefaultDiscoveryTimeout}
	tests := []struct {
		name    string
		env     []string
		want    func(c Config) Config
		wantErr string
	}{
		{name: "defaults", want: func(c Config) Config { return c }},
		{
			name: "everything set",
			env: []string{
				"SKYNOMAD_SETUP_FILE=/s.sh", "SKYNOMAD_RUN_FILE=/r.sh", "SKYNOMAD_TASK_NAME=train",
				"SKYNOMAD_NUM_NODES=3", "SKYNOMAD_NODE_RANK=2", "SKYNOMAD_NODE_IPS=10.0.0.1,10.0.0.2\n10.0.0.3\n",
				"SKYNOMAD_WORKDIR=/w", "SKYNOMAD_RESULT_FILE=/res.json", "SKYNOMAD_GRACE=3s",
				"SKYNOMAD_CLUSTER_INFO={}", "SKYNOMAD_NOTICE_FILE=/n", "SKYNOMAD_PHASE_FILE=/p",
				"SKYNOMAD_PGID_FILE=/g", "SKYNOMAD_LOCK_FD=3", "SKYNOMAD_RUN_GATE=/gate", "SKYNOMAD_DISCOVERY_TIMEOUT=1m",
			},
			want: func(c Config) Config {
				c.SetupFile, c.RunFile, c.TaskName = "/s.sh", "/r.sh", "train"
				c.NumNodes, c.NodeRank = 3, 2
				c.NodeIPs = []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
				c.Workdir, c.ResultFile, c.Grace = "/w", "/res.json", 3*time.Second
				c.ClusterInfo, c.NoticeFile, c.PhaseFile, c.PGIDFile = "{}", "/n", "/p", "/g"
				c.LockFD, c.DiscoveryTimeout, c.RunGate = 3, time.Minute, "/gate"
				return c
			},
		},
		{
			name: "nomad fallbacks",
			env:  []string{"SKYNOMAD_NUM_NODES=2", "NOMAD_ALLOC_INDEX=1", "NOMAD_ALLOC_DIR=/alloc"},
			want: func(c Config) Config {
				c.NumNodes, c.NodeRank = 2, 1
				c.ResultFile = "/alloc/skynomad/result-1.json"
				c.NoticeFile = "/alloc/skynomad/preemption-deadline"
				return c
			},
		},
		{
			name: "own rank wins over nomad's",
			env:  []string{"SKYNOMAD_NUM_NODES=2", "SKYNOMAD_NODE_RANK=0", "NOMAD_ALLOC_INDEX=1"},
			want: func(c Config) Config { c.NumNodes = 2; return c },
		},
		{name: "bad num nodes", env: []string{"SKYNOMAD_NUM_NODES=zero"}, wantErr: `SKYNOMAD_NUM_NODES="zero": want a positive integer`},
		{name: "rank out of range", env: []string{"SKYNOMAD_NUM_NODES=2", "SKYNOMAD_NODE_RANK=2"}, wantErr: "node rank 2 is out of range for 2 nodes"},
		{name: "ip count", env: []string{"SKYNOMAD_NUM_NODES=2", "SKYNOMAD_NODE_IPS=1.2.3.4"}, wantErr: "SKYNOMAD_NODE_IPS lists 1 addresses for 2 nodes"},
		{name: "bad grace", env: []string{"SKYNOMAD_GRACE=10"}, wantErr: `SKYNOMAD_GRACE="10": want a duration such as 10s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ConfigFromEnv(tt.env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(base), got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
