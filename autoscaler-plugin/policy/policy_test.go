package policy

import (
	"flag"
	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/internal/golden"
	"path/filepath"
	"testing"
	"time"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var opts = Options{Capacity: []string{"spot", "on-demand"}, MaxNodes: 8,
	EvaluationInterval: 10 * time.Second, Cooldown: 5 * time.Minute, NodeDrainDeadline: 10 * time.Minute}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for _, off := range []cloud.Offering{
		{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", Spot: true},
		{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-8"},
	} {
		got := Render(off, opts)
		path := filepath.Join("testdata", off.NodeClass()+".hcl")
		golden.Check(t, path, got, *update)
	}
}

func TestOfferings(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	classes := func(o Options) []string {
		var out []string
		for _, off := range Offerings(cat, o) {
			out = append(out, off.NodeClass())
		}
		return out
	}
	o := opts
	o.Infra, o.InstanceTypes = []string{"aws/us-east-1"}, []string{"m6i.large"}
	want := []string{"sky-aws-us-east-1-m6i.large-on-demand", "sky-aws-us-east-1-m6i.large-spot"}
	if diff := cmp.Diff(want, classes(o)); diff != "" {
		t.Errorf("aws/us-east-1 m6i.large (-want +got):\n%s", diff)
	}

	o.Capacity = []string{"on-demand"}
	if diff := cmp.Diff(want[:1], classes(o)); diff != "" {
		t.Errorf("on-demand only (-want +got):\n%s", diff)
	}

	// Every offering of a cloud, none of another or of this host.
	o = opts
	o.Infra = []string{"gcp"}
	all := Offerings(cat, o)
	if len(all) == 0 {
		t.Fatal("no GCP offering")
	}
	for _, off := range all {
		if off.Cloud != "gcp" {
			t.Errorf("infra [gcp] gave %s", off.NodeClass())
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "policies")
	offs := []cloud.Offering{{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", Spot: true}}
	files, err := Write(dir, offs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "sky-aws-us-east-1-m6i.large-spot.hcl")}; !cmp.Equal(want, files) {
		t.Errorf("files = %v, want %v", files, want)
	}
}
