package nomadpeers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
)

// fakeNomad serves a scripted sequence of allocation listings.
type fakeNomad struct {
	mu       sync.Mutex
	self     *api.Allocation
	listings [][]*api.AllocationListStub // one per call; the last repeats
	calls    int
	nodes    map[string]*api.Node
}

func (f *fakeNomad) allocation(_ context.Context, id string) (*api.Allocation, error) {
	if id != f.self.ID {
		return nil, fmt.Errorf("no allocation %s", id)
	}
	return f.self, nil
}

func (f *fakeNomad) jobAllocations(_ context.Context, jobID, _ string) ([]*api.AllocationListStub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if jobID != f.self.JobID {
		return nil, fmt.Errorf("no job %s", jobID)
	}
	l := f.listings[min(f.calls, len(f.listings)-1)]
	f.calls++
	return l, nil
}

func (f *fakeNomad) node(_ context.Context, id string) (*api.Node, error) {
	n, ok := f.nodes[id]
	if !ok {
		return nil, fmt.Errorf("no node %s", id)
	}
	return n, nil
}

func stub(index int, status string, version uint64, node string) *api.AllocationListStub {
	return &api.AllocationListStub{
		ID:            fmt.Sprintf("alloc-%d-%s-v%d", index, status, version),
		Name:          fmt.Sprintf("sky-1-0.task[%d]", index),
		TaskGroup:     "task",
		JobVersion:    version,
		NodeID:        node,
		DesiredStatus: "run",
		ClientStatus:  status,
		CreateIndex:   uint64(100 + index),
	}
}

func TestNomadPeers(t *testing.T) {
	t.Parallel()
	version := uint64(4)
	self := &api.Allocation{ID: "alloc-1-running-v4", JobID: "sky-1-0", TaskGroup: "task", Job: &api.Job{Version: &version}}
	nodes := map[string]*api.Node{
		"n0": {HTTPAddr: "10.0.0.10:4646"},
		"n1": {HTTPAddr: "10.0.0.11:4646"},
		"n2": {HTTPAddr: ""}, // no address: fall back on the allocation's network
	}
	withIP := stub(2, "running", 4, "n2")
	withIP.AllocatedResources = &api.AllocatedResources{Shared: api.AllocatedSharedResources{
		Networks: []*api.NetworkResource{{IP: "10.0.0.12"}},
	}}
	oldAttempt := stub(0, "complete", 3, "n1")

	tests := []struct {
		name      string
		listings  [][]*api.AllocationListStub
		want      []string
		wantCalls int
		wantErr   bool
	}{
		{
			name: "all placed at once, listed out of order",
			listings: [][]*api.AllocationListStub{{
				withIP, stub(1, "running", 4, "n1"), stub(0, "pending", 4, "n0"), oldAttempt,
			}},
			want:      []string{"10.0.0.10", "10.0.0.11", "10.0.0.12"},
			wantCalls: 1,
		},
		{
			name: "waits for the last node and ignores the old version",
			listings: [][]*api.AllocationListStub{
				{stub(1, "running", 4, "n1"), oldAttempt},
				{stub(1, "running", 4, "n1"), oldAttempt, stub(0, "running", 4, "n0")},
				{stub(1, "running", 4, "n1"), stub(0, "running", 4, "n0"), withIP},
			},
			want:      []string{"10.0.0.10", "10.0.0.11", "10.0.0.12"},
			wantCalls: 3,
		},
		{
			name:     "never complete",
			listings: [][]*api.AllocationListStub{{stub(0, "running", 4, "n0"), stub(1, "failed", 4, "n1")}},
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeNomad{self: self, listings: tt.listings, nodes: nodes}
			p := &NomadPeers{api: fake, allocID: self.ID, poll: time.Millisecond, log: slog.New(slog.DiscardHandler)}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			got, err := p.NodeIPs(ctx, 3)
			if tt.wantErr {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want a deadline error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("node IPs (-want +got):\n%s", diff)
			}
			if fake.calls != tt.wantCalls {
				t.Errorf("listed allocations %d times, want %d", fake.calls, tt.wantCalls)
			}
		})
	}
}

func TestAllocIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		want   int
		wantOK bool
	}{
		{"sky-1-0.task[0]", 0, true},
		{"a.b[c].task[12]", 12, true},
		{"sky-1-0.task", 0, false},
		{"sky-1-0.task[x]", 0, false},
	}
	for _, tt := range tests {
		got, ok := allocIndex(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("allocIndex(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestGroupHostsNamesEveryNodeOfEveryTask(t *testing.T) {
	t.Parallel()
	version := uint64(2)
	in := func(s *api.AllocationListStub, group string) *api.AllocationListStub {
		s.TaskGroup, s.Name = group, fmt.Sprintf("sky-1-0.%s[%s]", group, s.Name[len(s.Name)-2:len(s.Name)-1])
		return s
	}
	job := &api.Job{Version: &version, TaskGroups: []*api.TaskGroup{
		{Name: new("server"), Count: new(1), Meta: map[string]string{"sky.task_name": "server"}},
		{Name: new("trainer"), Count: new(2), Meta: map[string]string{"sky.task_name": "trainer"}},
	}}
	self := &api.Allocation{ID: "self", JobID: "sky-1-0", TaskGroup: "trainer", Job: job}
	f := &fakeNomad{
		self: self,
		nodes: map[string]*api.Node{
			"n0": {HTTPAddr: "10.0.0.10:4646"}, "n1": {HTTPAddr: "10.0.0.11:4646"}, "n2": {HTTPAddr: "10.0.0.12:4646"},
		},
		listings: [][]*api.AllocationListStub{
			// The second trainer is not placed yet: wait.
			{in(stub(0, "running", 2, "n0"), "server"), in(stub(0, "running", 2, "n1"), "trainer")},
			{in(stub(0, "running", 2, "n0"), "server"), in(stub(0, "running", 2, "n1"), "trainer"), in(stub(1, "pending", 2, "n2"), "trainer")},
		},
	}
	p := &NomadPeers{api: f, allocID: "self", poll: time.Millisecond, log: slog.New(slog.DiscardHandler)}
	got, err := p.GroupHosts(context.Background(), "rl")
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.HostEntry{
		{IP: "10.0.0.10", Name: "server-0.rl"},
		{IP: "10.0.0.11", Name: "trainer-0.rl"},
		{IP: "10.0.0.12", Name: "trainer-1.rl"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if f.calls < 2 {
		t.Errorf("listed the allocations %d time(s): it did not wait for the unplaced trainer", f.calls)
	}
}
