package gcefake

import (
	"context"
	"errors"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	inst := &apiInstance{
		Name:   "sky-a",
		Status: "RUNNING",
		Zone:   apiBase + "projects/p/zones/us-central1-a",
		Labels: map[string]string{"skynomad-node-class": "sky-gcp-x", "team": "ml"},
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{"", true},
		{`labels.skynomad-node-class = "sky-gcp-x"`, true},
		{`labels.skynomad-node-class = sky-gcp-x`, true},
		{`labels.skynomad-node-class = "sky-gcp-y"`, false},
		{`labels.missing = "x"`, false},
		{`labels.missing != "x"`, true},
		{`(labels.team = "ml") (status = "RUNNING")`, true},
		{`labels.team = "ml" AND status != "RUNNING"`, false},
		{`zone = us-central1-a AND name = "sky-a"`, true},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.filter, err)
			continue
		}
		if got := f.matches(inst); got != tt.want {
			t.Errorf("filter %q matches = %v, want %v", tt.filter, got, tt.want)
		}
	}
	for _, bad := range []string{`name = a OR name = b`, `name > a`, `cpuPlatform = x`, `(name = a`, `name =`, `name = "a`} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("parseFilter(%q) = nil error, want one", bad)
		}
	}
}

// The fake refuses what GCE refuses, with GCE's status and reason.
func TestInsertRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(Options{NotOffered: map[string][]string{"a3-highgpu-8g": {"us-central1-a"}}})
	defer s.Close()
	c, err := compute.NewInstancesRESTClient(ctx, option.WithEndpoint(s.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := func() *computepb.Instance {
		return &computepb.Instance{
			Name:        proto.String("sky-one"),
			MachineType: proto.String("zones/us-central1-a/machineTypes/n2-standard-8"),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
			NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
		}
	}
	insert := func(project, zone string, in *computepb.Instance) error {
		op, err := c.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone, InstanceResource: in})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	if err := insert("skynomad-test", "us-central1-a", good()); err != nil {
		t.Fatalf("insert: %v", err)
	}
	tests := []struct {
		name    string
		project string
		zone    string
		edit    func(*computepb.Instance)
		status  int
		reason  string
		message string
	}{
		{"name in use", "", "", func(*computepb.Instance) {}, 409, "alreadyExists", "already exists"},
		{"bad name", "", "", func(in *computepb.Instance) { in.Name = proto.String("Sky_One") }, 400, "invalid", "resource.name"},
		{"bad label", "", "", func(in *computepb.Instance) { in.Labels = map[string]string{"skynomad:node-class": "x"} }, 400, "invalid", "resource.labels"},
		{"type not offered", "", "", func(in *computepb.Instance) {
			in.MachineType = proto.String("zones/us-central1-a/machineTypes/a3-highgpu-8g")
		}, 400, "invalid", "Machine type with name 'a3-highgpu-8g' does not exist in zone 'us-central1-a'"},
		{"machine type of another zone", "", "", func(in *computepb.Instance) {
			in.MachineType = proto.String("zones/us-central1-b/machineTypes/n2-standard-8")
		}, 400, "invalid", "resource.machineType"},
		{"no boot disk", "", "", func(in *computepb.Instance) { in.Disks = nil }, 400, "invalid", "Boot disk"},
		{"spot restarting", "", "", func(in *computepb.Instance) {
			in.Scheduling = &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), AutomaticRestart: proto.Bool(true)}
		}, 400, "invalid", "automaticRestart"},
		{"unknown zone", "", "mars-north1-a", func(*computepb.Instance) {}, 400, "invalid", "Unknown zone"},
		{"unknown project", "other", "", func(*computepb.Instance) {}, 404, "notFound", "projects/other"},
	}
	for _, tt := range tests {
		in := good()
		tt.edit(in)
		if tt.name != "name in use" {
			in.Name = proto.String(strings.ReplaceAll(in.GetName(), "one", "two"))
		}
		project, zone := "skynomad-test", "us-central1-a"
		if tt.project != "" {
			project = tt.project
		}
		if tt.zone != "" {
			zone = tt.zone
		}
		err := insert(project, zone, in)
		var ge *googleapi.Error
		if !errors.As(err, &ge) {
			t.Errorf("%s: err = %v, want a googleapi.Error", tt.name, err)
			continue
		}
		got := []any{ge.Code, ""}
		if len(ge.Errors) == 1 {
			got[1] = ge.Errors[0].Reason
		}
		if diff := cmp.Diff([]any{tt.status, tt.reason}, got); diff != "" || !strings.Contains(ge.Message, tt.message) {
			t.Errorf("%s: got %d %v %q, want %d %s containing %q", tt.name, ge.Code, got[1], ge.Message, tt.status, tt.reason, tt.message)
		}
	}
	if n := s.Calls("instances.insert"); n != len(tests)+1 {
		t.Errorf("instances.insert calls = %d, want %d", n, len(tests)+1)
	}
	if got := len(s.Machines()); got != 1 {
		t.Errorf("fake has %d machines, want 1", got)
	}
}
