package target

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// fakeJobs is Nomad's job list as the plugin reads it.
type fakeJobs struct {
	stubs []*api.JobListStub
	jobs  map[string]*api.Job
}

func (f fakeJobs) List(*api.QueryOptions) ([]*api.JobListStub, *api.QueryMeta, error) {
	return f.stubs, nil, nil
}

func (f fakeJobs) Info(id string, _ *api.QueryOptions) (*api.Job, *api.QueryMeta, error) {
	return f.jobs[id], nil, nil
}

func stub(id string, priority int, submit int64, queued map[string]int, meta map[string]string) *api.JobListStub {
	sum := &api.JobSummary{Summary: map[string]api.TaskGroupSummary{}}
	for g, n := range queued {
		sum.Summary[g] = api.TaskGroupSummary{Queued: n}
	}
	meta[naming.MetaJobID] = id
	return &api.JobListStub{ID: id, Priority: priority, SubmitTime: submit, JobSummary: sum, Meta: meta}
}

// TestInstancesCarryTheLabelsOfTheirJobs: the labels a job's meta names
// (as render writes them) reach the launch requests of the instances
// started for it, under the policy's tags; the providers make them EC2
// tags and GCE labels (cloud/aws, cloud/gcp).
func TestInstancesCarryTheLabelsOfTheirJobs(t *testing.T) {
	t.Parallel()
	pol, err := readPolicy(map[string]string{
		KeyNodeClass: "sky-aws-us-east-1-m6i.large-spot", KeyCloud: "aws", KeyRegion: "us-east-1",
		KeyInstanceType: "m6i.large", KeyCapacity: "spot", KeyZones: "us-east-1a", KeyTags: "team=ops", KeyNomadServers: "127.0.0.1:4647",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	class := pol.class
	jobs := fakeJobs{
		stubs: []*api.JobListStub{
			// Submitted first, but of a lower priority.
			stub("sky-1-0", 50, 1, map[string]int{"main": 1}, map[string]string{
				naming.MetaOffering: class, naming.MetaLabels: `{"owner":"bob"}`}),
			stub("sky-2-0", 60, 2, map[string]int{"main": 2}, map[string]string{
				naming.MetaOffering: class, naming.MetaLabels: `{"owner":"alice","team":"research"}`}),
			// Placed already, of another class, ended, or on a pool's workers.
			stub("sky-3-0", 90, 3, map[string]int{"main": 0}, map[string]string{naming.MetaOffering: class, naming.MetaLabels: `{"x":"y"}`}),
			stub("sky-4-0", 90, 4, map[string]int{"main": 3}, map[string]string{naming.MetaOffering: "sky-gcp-x", naming.MetaLabels: `{"x":"y"}`}),
			func() *api.JobListStub {
				s := stub("sky-5-0", 90, 5, map[string]int{"main": 1}, map[string]string{naming.MetaOffering: class})
				s.Stop = true
				return s
			}(),
			stub("sky-6-0", 90, 6, map[string]int{"main": 1}, map[string]string{naming.MetaOffering: class, naming.MetaPool: "p"}),
			// A job group: its task group for this class waits for one node.
			stub("sky-7-0", 50, 7, map[string]int{"server": 1, "client": 1}, map[string]string{naming.MetaGroup: "g", naming.MetaOffering: "sky-gcp-x"}),
		},
		jobs: map[string]*api.Job{"sky-7-0": {TaskGroups: []*api.TaskGroup{
			{Name: new("server"), Meta: map[string]string{naming.MetaOffering: class, naming.MetaLabels: `{"role":"server"}`}},
			{Name: new("client"), Meta: map[string]string{naming.MetaOffering: "sky-gcp-x", naming.MetaLabels: `{"role":"client"}`}},
		}}},
	}
	waiting, err := waitingJobs(context.Background(), jobs, pol)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	var counts []int
	for _, req := range launchPlan(pol, 5, waiting) {
		got = append(got, req.Tags)
		counts = append(counts, req.Count)
		if req.Class() != class || req.Offering != pol.offering {
			t.Errorf("request for %s / %+v, want %s", req.Class(), req.Offering, class)
		}
	}
	own := func(extra map[string]string) map[string]string {
		m := map[string]string{"team": "ops", cloud.TagNodeClass: class, cloud.TagOffering: "aws/us-east-1/m6i.large/spot", cloud.TagManaged: "true"}
		for k, v := range extra {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
		return m
	}
	want := []map[string]string{
		own(map[string]string{"owner": "alice", "team": "research"}), // the policy's team wins
		own(map[string]string{"owner": "bob"}),
		own(map[string]string{"role": "server"}),
		own(nil),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 1, 1, 1}, counts); diff != "" {
		t.Errorf("instances per request (-want +got):\n%s", diff)
	}

	// Fewer instances than jobs wait for go to the first jobs; with none
	// waiting, one request as before.
	if plan := launchPlan(pol, 1, waiting); len(plan) != 1 || plan[0].Count != 1 || plan[0].Tags["owner"] != "alice" {
		t.Errorf("one instance: %+v", plan)
	}
	if plan := launchPlan(pol, 3, nil); len(plan) != 1 || plan[0].Count != 3 || !cmp.Equal(plan[0].Tags, pol.tags) {
		t.Errorf("no waiting job: %+v", plan)
	}
}
