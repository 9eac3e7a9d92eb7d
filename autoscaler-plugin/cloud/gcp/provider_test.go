package gcp_test

import (
	"context"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp/gcefake"
)

const region = "us-central1"

var zonesABC = []string{"us-central1-a", "us-central1-b", "us-central1-c"}

// clock is a settable clock for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setup starts a fake GCE and a Provider for region talking to it through
// the real client.
func setup(t *testing.T, o gcefake.Options, cfg gcp.Config) (*gcp.Provider, *gcefake.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = newClock().Now
	}
	srv := gcefake.New(o)
	t.Cleanup(srv.Close)
	cfg.Project, cfg.Endpoint, cfg.NoAuth = "skynomad-test", srv.URL(), true
	p, err := gcp.New(context.Background(), region, cfg)
	if err != nil {
		t.Fatalf("gcp.New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p, srv
}

func offering(typ string, spot bool) cloud.Offering {
	return cloud.Offering{Cloud: "gcp", Region: region, InstanceType: typ, Spot: spot}
}

func request(o cloud.Offering, count int, zones ...string) cloud.LaunchRequest {
	return cloud.LaunchRequest{
		Offering:  o,
		Count:     count,
		Zones:     zones,
		Bootstrap: "#!/bin/bash\necho join " + o.NodeClass() + "\n",
		Tags: map[string]string{
			cloud.TagNodeClass: o.NodeClass(),
			cloud.TagOffering:  "gcp:" + o.Region + ":" + o.InstanceType + ":" + o.Capacity(),
			cloud.TagManaged:   "true",
		},
	}
}

func zonesOf(insts []cloud.Instance) []string {
	var zs []string
	for _, in := range insts {
		zs = append(zs, in.Zone)
	}
	return zs
}

func TestLaunchSpreadsOverZones(t *testing.T) {
	t.Parallel()
	clk := newClock()
	p, srv := setup(t, gcefake.Options{Now: clk.Now}, gcp.Config{})
	o := offering("n2-standard-8", true)

	got, err := p.Launch(context.Background(), request(o, 4, zonesABC...))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if diff := cmp.Diff([]string{"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-a"}, zonesOf(got)); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	for _, in := range got {
		if in.ID != in.Zone+"/"+path.Base(in.ID) || !strings.HasPrefix(path.Base(in.ID), "sky-n2-standard-8-spot-") {
			t.Errorf("instance ID %q: want <zone>/sky-n2-standard-8-spot-…", in.ID)
		}
		if in.State != cloud.Pending || !in.Created.Equal(clk.Now()) {
			t.Errorf("instance %s: state %q created %v, want pending at %v", in.ID, in.State, in.Created, clk.Now())
		}
	}
	if n := srv.Calls("instances.insert"); n != 4 {
		t.Errorf("instances.insert calls = %d, want 4", n)
	}
	machines := srv.Machines()
	if len(machines) != 4 {
		t.Fatalf("fake has %d machines, want 4", len(machines))
	}
	wantTags := map[string]string{
		"skynomad-node-class": "sky-gcp-us-central1-n2-standard-8-spot",
		"skynomad-offering":   "gcp_us-central1_n2-standard-8_spot",
		"skynomad-managed":    "true",
	}
	for _, m := range machines {
		if diff := cmp.Diff(wantTags, m.Tags); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", m.ID, diff)
		}
		if m.Bootstrap != request(o, 1).Bootstrap || !m.Spot || m.InstanceType != "n2-standard-8" {
			t.Errorf("%s: bootstrap %q spot %v type %q", m.ID, m.Bootstrap, m.Spot, m.InstanceType)
		}
	}
}

func TestLaunchZonesFromRegion(t *testing.T) {
	t.Parallel()
	p, srv := setup(t, gcefake.Options{}, gcp.Config{})
	got, err := p.Launch(context.Background(), request(offering("e2-standard-4", false), 5))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	want := []string{"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-central1-a"}
	if diff := cmp.Diff(want, zonesOf(got)); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	if n := srv.Calls("regions.get"); n != 1 {
		t.Errorf("regions.get calls = %d, want 1", n)
	}
}

func TestLaunchRefusesZoneOutsideRegion(t *testing.T) {
	t.Parallel()
	p, srv := setup(t, gcefake.Options{}, gcp.Config{})
	_, err := p.Launch(context.Background(), request(offering("e2-standard-4", false), 1, "europe-west4-a"))
	if err == nil || !strings.Contains(err.Error(), "europe-west4-a") {
		t.Errorf("Launch in another region's zone: err = %v, want one naming the zone", err)
	}
	if n := srv.Calls("instances.insert"); n != 0 {
		t.Errorf("instances.insert calls = %d, want 0", n)
	}
}

// instanceView is what a test checks of an instance GCE holds.
type instanceView struct {
	MachineType                                     string
	ProvisioningModel, TerminationAction, OnHostMnt string
	AutomaticRestart                                *bool
	Labels                                          map[string]string
	Metadata                                        map[string]string
	Image                                           string
	DiskGB                                          int64
	Network, Subnetwork                             string
	NAT                                             bool
	ServiceAccount                                  string
	Scopes                                          []string
}

// getInstance reads an instance back from the fake through the real client.
func getInstance(t *testing.T, srv *gcefake.Server, id string) instanceView {
	t.Helper()
	ctx := context.Background()
	c, err := compute.NewInstancesRESTClient(ctx, option.WithEndpoint(srv.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	zone, name, _ := strings.Cut(id, "/")
	in, err := c.Get(ctx, &computepb.GetInstanceRequest{Project: "skynomad-test", Zone: zone, Instance: name})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	v := instanceView{
		MachineType:       in.GetMachineType(),
		ProvisioningModel: in.GetScheduling().GetProvisioningModel(),
		TerminationAction: in.GetScheduling().GetInstanceTerminationAction(),
		OnHostMnt:         in.GetScheduling().GetOnHostMaintenance(),
		AutomaticRestart:  in.GetScheduling().AutomaticRestart,
		Labels:            in.GetLabels(),
		Metadata:          map[string]string{},
	}
	for _, it := range in.GetMetadata().GetItems() {
		v.Metadata[it.GetKey()] = it.GetValue()
	}
	if d := in.GetDisks(); len(d) == 1 && d[0].GetBoot() && d[0].GetAutoDelete() {
		v.Image, v.DiskGB = d[0].GetInitializeParams().GetSourceImage(), d[0].GetDiskSizeGb()
	}
	if n := in.GetNetworkInterfaces(); len(n) == 1 {
		v.Network, v.Subnetwork = n[0].GetNetwork(), n[0].GetSubnetwork()
		v.NAT = len(n[0].GetAccessConfigs()) == 1 && n[0].GetAccessConfigs()[0].GetType() == "ONE_TO_ONE_NAT"
	}
	if sa := in.GetServiceAccounts(); len(sa) == 1 {
		v.ServiceAccount, v.Scopes = sa[0].GetEmail(), sa[0].GetScopes()
	}
	return v
}

func TestLaunchInstanceResource(t *testing.T) {
	t.Parallel()
	f := false
	const api = "https://www.googleapis.com/compute/v1/projects/skynomad-test/"
	tests := []struct {
		name string
		cfg  gcp.Config
		spot bool
		want instanceView
	}{
		{
			name: "spot with defaults",
			spot: true,
			cfg:  gcp.Config{ExternalIP: true},
			want: instanceView{
				MachineType:       api + "zones/us-central1-b/machineTypes/n2-standard-8",
				ProvisioningModel: "SPOT", TerminationAction: "DELETE", OnHostMnt: "TERMINATE", AutomaticRestart: &f,
				Image: gcp.DefaultImage, DiskGB: 50, Network: api + "global/networks/default", NAT: true,
			},
		},
		{
			name: "on-demand, private, with service account",
			cfg: gcp.Config{
				Image: "projects/cos-cloud/global/images/family/cos-stable", DiskGB: 200,
				Network: "global/networks/sky", Subnetwork: "regions/us-central1/subnetworks/sky-sub",
				ServiceAccount: "nomad@skynomad-test.iam.gserviceaccount.com",
			},
			want: instanceView{
				MachineType:       api + "zones/us-central1-b/machineTypes/n2-standard-8",
				ProvisioningModel: "STANDARD",
				Image:             "projects/cos-cloud/global/images/family/cos-stable", DiskGB: 200,
				Network: api + "global/networks/sky", Subnetwork: api + "regions/us-central1/subnetworks/sky-sub",
				ServiceAccount: "nomad@skynomad-test.iam.gserviceaccount.com",
				Scopes:         []string{"https://www.googleapis.com/auth/cloud-platform"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := setup(t, gcefake.Options{}, tt.cfg)
			o := offering("n2-standard-8", tt.spot)
			req := request(o, 1, "us-central1-b")
			req.Tags["Team"] = "ML.Research"
			got, err := p.Launch(context.Background(), req)
			if err != nil || len(got) != 1 {
				t.Fatalf("Launch = %v, %v; want one instance", got, err)
			}
			want := tt.want
			want.Labels = map[string]string{
				"skynomad-node-class": gcp.LabelValue(o.NodeClass()),
				"skynomad-offering":   gcp.LabelValue(req.Tags[cloud.TagOffering]),
				"skynomad-managed":    "true",
				"team":                "ml_research",
			}
			want.Metadata = map[string]string{"startup-script": req.Bootstrap, "skynomad-node-class": o.NodeClass()}
			if diff := cmp.Diff(want, getInstance(t, srv, got[0].ID)); diff != "" {
				t.Errorf("instance (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLaunchCapacity(t *testing.T) {
	t.Parallel()
	spot := true
	refuse := func(zone, code string) cloudfake.Refusal {
		return cloudfake.Refusal{Zone: zone, Code: code}
	}
	tests := []struct {
		name       string
		refusals   []cloudfake.Refusal
		notOffered []string // zones without the type
		onDemand   bool
		count      int
		wantZones  []string
		wantErr    *cloud.CapacityError // Kind, Code, Zone; nil: no error
		wantOther  bool                 // an error that is no capacity refusal
		wantInsert int
	}{
		{
			name:       "stockout in the first zone: the second",
			refusals:   []cloudfake.Refusal{refuse("us-central1-a", "ZONE_RESOURCE_POOL_EXHAUSTED")},
			count:      1,
			wantZones:  []string{"us-central1-b"},
			wantInsert: 2,
		},
		{
			name:       "a refused zone is not tried again; the rest spread",
			refusals:   []cloudfake.Refusal{refuse("us-central1-a", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS")},
			count:      4,
			wantZones:  []string{"us-central1-b", "us-central1-b", "us-central1-c", "us-central1-c"},
			wantInsert: 6, // a, b, c, a; then b, c
		},
		{
			name:       "every zone out: stockout, nothing launched",
			refusals:   []cloudfake.Refusal{refuse("", "ZONE_RESOURCE_POOL_EXHAUSTED")},
			count:      2,
			wantErr:    &cloud.CapacityError{Kind: cloud.Stockout, Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Zone: "us-central1-a"},
			wantInsert: 4, // a, b; then c, c
		},
		{
			name:       "a spot stockout leaves on-demand alone",
			refusals:   []cloudfake.Refusal{{Spot: &spot, Code: "ZONE_RESOURCE_POOL_EXHAUSTED"}},
			onDemand:   true,
			count:      1,
			wantZones:  []string{"us-central1-a"},
			wantInsert: 1,
		},
		{
			name:       "operation QUOTA_EXCEEDED stops at once",
			refusals:   []cloudfake.Refusal{refuse("", "QUOTA_EXCEEDED")},
			count:      1,
			wantErr:    &cloud.CapacityError{Kind: cloud.Quota, Code: "QUOTA_EXCEEDED"},
			wantInsert: 1,
		},
		{
			name:       "HTTP quotaExceeded after one launched",
			refusals:   []cloudfake.Refusal{refuse("us-central1-b", "quotaExceeded")},
			count:      3,
			wantZones:  []string{"us-central1-a", "us-central1-c"},
			wantErr:    &cloud.CapacityError{Kind: cloud.Quota, Code: "quotaExceeded"},
			wantInsert: 3,
		},
		{
			name:       "type not offered in the first zone",
			notOffered: []string{"us-central1-a"},
			count:      1,
			wantZones:  []string{"us-central1-b"},
			wantInsert: 2,
		},
		{
			name:       "type offered nowhere: unsupported",
			notOffered: zonesABC,
			count:      1,
			wantErr:    &cloud.CapacityError{Kind: cloud.Unsupported, Code: "invalid", Zone: "us-central1-a"},
			wantInsert: 3,
		},
		{
			name:       "UNSUPPORTED_OPERATION everywhere",
			refusals:   []cloudfake.Refusal{refuse("", "UNSUPPORTED_OPERATION")},
			count:      1,
			wantErr:    &cloud.CapacityError{Kind: cloud.Unsupported, Code: "UNSUPPORTED_OPERATION", Zone: "us-central1-a"},
			wantInsert: 3,
		},
		{
			name:       "stockout outranks unsupported",
			notOffered: []string{"us-central1-a"},
			refusals:   []cloudfake.Refusal{refuse("us-central1-b", "ZONE_RESOURCE_POOL_EXHAUSTED"), refuse("us-central1-c", "ZONE_RESOURCE_POOL_EXHAUSTED")},
			count:      1,
			wantErr:    &cloud.CapacityError{Kind: cloud.Stockout, Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Zone: "us-central1-b"},
			wantInsert: 3,
		},
		{
			name:       "rate limit is no capacity refusal",
			refusals:   []cloudfake.Refusal{refuse("", "rateLimitExceeded")},
			count:      1,
			wantOther:  true,
			wantInsert: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := offering("n2-standard-8", !tt.onDemand)
			p, srv := setup(t, gcefake.Options{NotOffered: map[string][]string{"n2-standard-8": tt.notOffered}}, gcp.Config{})
			for _, r := range tt.refusals {
				srv.Refusals().Add(r)
			}
			got, err := p.Launch(context.Background(), request(o, tt.count, zonesABC...))
			if diff := cmp.Diff(tt.wantZones, zonesOf(got)); diff != "" {
				t.Errorf("launched in (-want +got):\n%s", diff)
			}
			ce := cloud.AsCapacity(err)
			switch {
			case tt.wantErr == nil && !tt.wantOther && err != nil:
				t.Errorf("Launch error = %v, want none", err)
			case tt.wantOther && (err == nil || ce != nil):
				t.Errorf("Launch error = %v, want one that is no capacity refusal", err)
			case tt.wantErr != nil && ce == nil:
				t.Errorf("Launch error = %v, want a *cloud.CapacityError", err)
			case tt.wantErr != nil:
				gotErr := &cloud.CapacityError{Kind: ce.Kind, Code: ce.Code, Zone: ce.Zone}
				if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
					t.Errorf("capacity error (-want +got):\n%s\nerror: %v", diff, err)
				}
				if ce.Cloud != "gcp" || ce.Message == "" {
					t.Errorf("capacity error %+v: want cloud gcp and GCE's message", ce)
				}
			}
			if n := srv.Calls("instances.insert"); n != tt.wantInsert {
				t.Errorf("instances.insert calls = %d, want %d", n, tt.wantInsert)
			}
			var live []string
			for _, m := range srv.Machines() {
				live = append(live, m.Zone)
			}
			sort.Strings(live)
			want := append([]string(nil), tt.wantZones...)
			sort.Strings(want)
			if diff := cmp.Diff(want, live); diff != "" {
				t.Errorf("fake's machines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListByClass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	terminated := make(chan cloudfake.Machine, 4)
	p, srv := setup(t, gcefake.Options{Hooks: cloudfake.Hooks{Terminate: func(m cloudfake.Machine) { terminated <- m }}}, gcp.Config{})

	// x1.large and x1_large are two classes whose labels are the same.
	dotted, underscored, other := offering("x1.large", true), offering("x1_large", true), offering("n2-standard-8", true)
	if gcp.LabelValue(dotted.NodeClass()) != gcp.LabelValue(underscored.NodeClass()) {
		t.Fatal("test classes should collide as labels")
	}
	launch := func(o cloud.Offering, n int) []cloud.Instance {
		got, err := p.Launch(ctx, request(o, n, zonesABC...))
		if err != nil {
			t.Fatalf("Launch %s: %v", o.NodeClass(), err)
		}
		return got
	}
	mine := launch(dotted, 4)
	theirs := launch(underscored, 1)
	launch(other, 2)

	if err := p.Terminate(ctx, []string{mine[0].ID}); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	srv.Preempt(mine[1].ID)
	for range 2 {
		select {
		case <-terminated:
		case <-time.After(10 * time.Second):
			t.Fatal("Hooks.Terminate not called for the deleted and the preempted instance")
		}
	}

	tests := []struct {
		class string
		want  []cloud.Instance
	}{
		{dotted.NodeClass(), mine[2:]},
		{underscored.NodeClass(), theirs},
		{"sky-gcp-us-central1-none-spot", nil},
	}
	for _, tt := range tests {
		got, err := p.List(ctx, tt.class)
		if err != nil {
			t.Fatalf("List %s: %v", tt.class, err)
		}
		var want []cloud.Instance
		for _, in := range tt.want {
			in.State = cloud.Running // BootDelay 0
			want = append(want, in)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List(%s) (-want +got):\n%s", tt.class, diff)
		}
	}
	if n := srv.Calls("instances.aggregatedList"); n != len(tests) {
		t.Errorf("instances.aggregatedList calls = %d, want %d (one per List)", n, len(tests))
	}
}

// A worker pool's instances are of an offering but join the pool's node
// class: they are labelled and listed by it, not the offering's.
func TestListPoolClass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, _ := setup(t, gcefake.Options{}, gcp.Config{})
	o := offering("n2-standard-8", false)
	req := request(o, 2, zonesABC...)
	req.NodeClass = "sky-pool-gpus"
	pool, err := p.Launch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Launch(ctx, request(o, 1, zonesABC...)); err != nil {
		t.Fatal(err)
	}
	ids := func(insts []cloud.Instance) []string {
		var out []string
		for _, in := range insts {
			out = append(out, in.ID)
		}
		sort.Strings(out)
		return out
	}
	got, err := p.List(ctx, "sky-pool-gpus")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(pool), ids(got)); diff != "" {
		t.Errorf("List(sky-pool-gpus) (-want +got):\n%s", diff)
	}
	if got, err := p.List(ctx, o.NodeClass()); err != nil || len(got) != 1 {
		t.Errorf("List(%s) = %v, %v; want the offering's one instance", o.NodeClass(), got, err)
	}
}

// An instance with the class label but no metadata (launched by something
// else) is the class's.
func TestListWithoutMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, srv := setup(t, gcefake.Options{}, gcp.Config{})
	o := offering("n2-standard-8", false)
	c, err := compute.NewInstancesRESTClient(ctx, option.WithEndpoint(srv.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	str := func(s string) *string { return &s }
	op, err := c.Insert(ctx, &computepb.InsertInstanceRequest{Project: "skynomad-test", Zone: "us-central1-c", InstanceResource: &computepb.Instance{
		Name:              str("by-hand"),
		MachineType:       str("zones/us-central1-c/machineTypes/n2-standard-8"),
		Disks:             []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: str(gcp.DefaultImage)}}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Network: str(gcp.DefaultNetwork)}},
		Labels:            map[string]string{"skynomad-node-class": gcp.LabelValue(o.NodeClass())},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := p.List(ctx, o.NodeClass())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "us-central1-c/by-hand" {
		t.Errorf("List = %+v, want us-central1-c/by-hand", got)
	}
}

func TestListStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	p, _ := setup(t, gcefake.Options{Now: clk.Now, BootDelay: time.Minute}, gcp.Config{})
	o := offering("n2-standard-8", true)
	if _, err := p.Launch(ctx, request(o, 1, "us-central1-a")); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		want    cloud.State
	}{
		{0, cloud.Pending},                // PROVISIONING
		{40 * time.Second, cloud.Pending}, // STAGING
		{20 * time.Second, cloud.Running},
	} {
		clk.Add(step.advance)
		got, err := p.List(ctx, o.NodeClass())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].State != step.want {
			t.Errorf("after +%v: List = %+v, want one %s", step.advance, got, step.want)
		}
	}
}

func TestTerminate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, srv := setup(t, gcefake.Options{}, gcp.Config{})
	o := offering("n2-standard-8", false)
	got, err := p.Launch(ctx, request(o, 2, zonesABC...))
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{got[0].ID, got[1].ID}
	for i := range 2 { // the second time every instance is already gone
		if err := p.Terminate(ctx, append(ids, "us-central1-f/never-was")); err != nil {
			t.Errorf("Terminate #%d: %v", i+1, err)
		}
	}
	if left, err := p.List(ctx, o.NodeClass()); err != nil || len(left) != 0 {
		t.Errorf("List after Terminate = %v, %v; want none", left, err)
	}
	for _, m := range srv.Machines() {
		if m.State != "terminated" {
			t.Errorf("%s is %s, want terminated", m.ID, m.State)
		}
	}
	if n := srv.Calls("instances.delete"); n != 6 {
		t.Errorf("instances.delete calls = %d, want 6", n)
	}

	err = p.Terminate(ctx, []string{"no-zone", "us-central1-a/"})
	if err == nil || !strings.Contains(err.Error(), `"no-zone"`) || !strings.Contains(err.Error(), "<zone>/<name>") {
		t.Errorf("Terminate of malformed IDs: %v, want an error naming them", err)
	}
}

func TestTerminateReportsOtherErrors(t *testing.T) {
	t.Parallel()
	p, _ := setup(t, gcefake.Options{}, gcp.Config{})
	err := p.Terminate(context.Background(), []string{"mars-central1-a/sky-x"})
	if err == nil || cloud.AsCapacity(err) != nil || !strings.Contains(err.Error(), "Unknown zone") {
		t.Errorf("Terminate in an unknown zone: %v, want GCE's 400", err)
	}
}
