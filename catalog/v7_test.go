package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/task"
)

// fixtureDir holds a small catalog in SkyPilot's v7 format: real rows of
// catalogs/v7/<cloud>/vms.csv, plus a few made up to reach the cases the
// real rows in it do not (a zone without spot price, a fractional GPU, a
// row without price, an accelerator in a zone without host).
const fixtureDir = "testdata"

func readFixture(t testing.TB, cloud string) []Offering {
	t.Helper()
	f, err := os.Open(CachePath(fixtureDir, cloud))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	offs, err := ReadV7(cloud, f)
	if err != nil {
		t.Fatalf("ReadV7 %s: %v", cloud, err)
	}
	return offs
}

func fixtureCatalog(t testing.TB) *Catalog {
	return New(append(readFixture(t, AWS), readFixture(t, GCP)...))
}

var approx = cmpopts.EquateApprox(0, 1e-9)

func TestReadV7AWS(t *testing.T) {
	t.Parallel()
	want := []Offering{
		{Cloud: "aws", Region: "us-east-1", Zones: []string{"use1-az1", "use1-az6"}, InstanceType: "g4dn.12xlarge", VCPUs: 48, MemoryGB: 192,
			GPU: "T4", GPUCount: 4, OnDemandPrice: 3.912, SpotPrice: 1.244, ZoneSpotPrices: map[string]float64{"use1-az1": 1.4828, "use1-az6": 1.244}},
		{Cloud: "aws", Region: "us-east-2", Zones: []string{"use2-az1", "use2-az2"}, InstanceType: "g6.8xlarge", VCPUs: 32, MemoryGB: 128,
			GPU: "L4", GPUCount: 1, OnDemandPrice: 2.0144, SpotPrice: 0.7474, ZoneSpotPrices: map[string]float64{"use2-az1": 0.7474, "use2-az2": 0.7982}},
		{Cloud: "aws", Region: "us-east-1", Zones: []string{"use1-az1"}, InstanceType: "g6f.large", VCPUs: 2, MemoryGB: 8,
			GPU: "L4", GPUCount: 0.125, OnDemandPrice: 0.2, SpotPrice: 0.08, ZoneSpotPrices: map[string]float64{"use1-az1": 0.08}},
		// use2-az3 has no spot price: on-demand only there.
		{Cloud: "aws", Region: "us-east-2", Zones: []string{"use2-az1", "use2-az2", "use2-az3"}, InstanceType: "m5.2xlarge", VCPUs: 8, MemoryGB: 32,
			OnDemandPrice: 0.384, SpotPrice: 0.1551, ZoneSpotPrices: map[string]float64{"use2-az1": 0.1551, "use2-az2": 0.1569}},
		{Cloud: "aws", Region: "us-east-1", Zones: []string{"use1-az1"}, InstanceType: "m6i.2xlarge", VCPUs: 8, MemoryGB: 32,
			OnDemandPrice: 0.384, SpotPrice: 0.1429, ZoneSpotPrices: map[string]float64{"use1-az1": 0.1429}},
		// Listed twice for its zone, with and without spot price.
		{Cloud: "aws", Region: "us-east-1", Zones: []string{"use1-az6"}, InstanceType: "p4de.24xlarge", VCPUs: 96, MemoryGB: 1152,
			GPU: "A100-80GB", GPUCount: 8, OnDemandPrice: 40.96, SpotPrice: 12.2, ZoneSpotPrices: map[string]float64{"use1-az6": 12.2}},
		// p5e.48xlarge has no on-demand price: left out.
		{Cloud: "aws", Region: "us-east-2", Zones: []string{"use2-az1", "use2-az3"}, InstanceType: "t3.small", VCPUs: 2, MemoryGB: 2,
			OnDemandPrice: 0.0208, SpotPrice: 0.0062, ZoneSpotPrices: map[string]float64{"use2-az1": 0.0071, "use2-az3": 0.0062}},
	}
	if diff := cmp.Diff(want, readFixture(t, AWS), approx); diff != "" {
		t.Errorf("AWS offerings (-want +got):\n%s", diff)
	}
}

func TestReadV7GCP(t *testing.T) {
	t.Parallel()
	ab := []string{"us-central1-a", "us-central1-b"}
	spotAB := func(p float64) map[string]float64 { return map[string]float64{"us-central1-a": p, "us-central1-b": p} }
	gcp := func(it string, vcpus, mem float64, zones []string, od float64, spot map[string]float64) Offering {
		o := Offering{Cloud: "gcp", Region: "us-central1", Zones: zones, InstanceType: it, VCPUs: vcpus, MemoryGB: mem, OnDemandPrice: od, ZoneSpotPrices: spot}
		for _, p := range spot {
			if o.SpotPrice == 0 || p < o.SpotPrice {
				o.SpotPrice = p
			}
		}
		return o
	}
	withGPU := func(o Offering, name string, n float64) Offering {
		o.GPU, o.GPUCount = name, n
		return o
	}
	tpu := gcp("TPU-VM", 96, 334, []string{"us-central1-b", "us-central1-c"}, 21.6,
		map[string]float64{"us-central1-b": 6.2424, "us-central1-c": 6.8})
	tpu = withGPU(tpu, "tpu-v6e-8", 1)
	tpu.TPU = true
	want := []Offering{
		// Machine types alone; a2 and g2 come with their GPUs, so they are
		// offered only with them.
		gcp("n1-highmem-4", 4, 26, ab, 0.23661, spotAB(0.05199)),
		gcp("n1-highmem-8", 8, 52, ab, 0.47321, spotAB(0.10399)),
		gcp("n1-standard-4", 4, 15, ab, 0.19, spotAB(0.042)),
		gcp("n2-standard-8", 8, 32, ab, 0.38847, map[string]float64{"us-central1-a": 0.13098}),
		// Host + accelerator, on-demand and spot each; us-central1-c has
		// the A100 but not the host.
		withGPU(gcp("a2-highgpu-1g", 12, 85, ab, 0.73948+2.93391, spotAB(0.29576+1.1472)), "A100", 1),
		// L4:1 comes with every g2 size SkyPilot lists for it.
		withGPU(gcp("g2-standard-4", 4, 16, ab, 0.14679+0.56004, spotAB(0.05874+0.2231)), "L4", 1),
		withGPU(gcp("g2-standard-8", 8, 32, []string{"us-central1-a"}, 0.29358+0.56004, map[string]float64{"us-central1-a": 0.11747 + 0.2231}), "L4", 1),
		// SkyPilot's default N1 host: 4 vCPUs and 16 GB for T4:1
		// (n1-standard-4 has 15), 8 and 32 for T4:2 and V100:1.
		withGPU(gcp("n1-highmem-4", 4, 26, ab, 0.23661+0.35, spotAB(0.05199+0.14)), "T4", 1),
		withGPU(gcp("n1-highmem-8", 8, 52, []string{"us-central1-a"}, 0.47321+0.7, map[string]float64{"us-central1-a": 0.10399 + 0.28}), "T4", 2),
		withGPU(gcp("n1-highmem-8", 8, 52, []string{"us-central1-b"}, 0.47321+2.48, nil), "V100", 1),
		// A TPU VM: the TPU's price alone, its zone listed once.
		tpu,
	}
	if diff := cmp.Diff(want, readFixture(t, GCP), approx); diff != "" {
		t.Errorf("GCP offerings (-want +got):\n%s", diff)
	}
}

func TestReadV7FindsColumnsByName(t *testing.T) {
	t.Parallel()
	src := "Region,AvailabilityZone,SpotPrice,Price,GpuInfo,MemoryGiB,vCPUs,AcceleratorCount,AcceleratorName,InstanceType,Arch\n" +
		"us-east-2,use2-az1,0.1551,0.384,,32.0,8.0,,,m5.2xlarge,x86_64\n"
	offs, err := ReadV7(AWS, strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Offering{{Cloud: "aws", Region: "us-east-2", Zones: []string{"use2-az1"}, InstanceType: "m5.2xlarge", VCPUs: 8, MemoryGB: 32,
		OnDemandPrice: 0.384, SpotPrice: 0.1551, ZoneSpotPrices: map[string]float64{"use2-az1": 0.1551}}}
	if diff := cmp.Diff(want, offs, approx); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadV7Errors(t *testing.T) {
	t.Parallel()
	const header = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n"
	tests := []struct {
		name, cloud, src, want string
	}{
		{"empty", AWS, "", "vms.csv is empty"},
		{"not a catalog", AWS, "<html><body>rate limited</body></html>\n", "no column InstanceType, which SkyPilot's v7 catalog has"},
		{"missing column", AWS, "InstanceType,vCPUs\n", "no column AcceleratorName"},
		{"bad number", AWS, header + "m5.large,,,two,8.0,,0.096,,us-east-1,use1-az1\n", `line 2: vCPUs "two" is not a number`},
		{"negative price", AWS, header + "m5.large,,,2.0,8.0,,-1,,us-east-1,use1-az1\n", `line 2: Price "-1"`},
		{"no zone", AWS, header + "m5.large,,,2.0,8.0,,0.096,,us-east-1,\n", "line 2: no Region or AvailabilityZone"},
		{"no priced row", AWS, header + "m5.large,,,2.0,8.0,,,0.03,us-east-1,use1-az1\n", "aws vms.csv: no priced row"},
		{"unknown cloud", "azure", header + "m5.large,,,2.0,8.0,,0.096,,us-east-1,use1-az1\n", `cloud "azure": want aws or gcp`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadV7(tc.cloud, strings.NewReader(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadV7 error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFixturePlan plans over the fixture: per-zone spot prices, GCP host
// plus accelerator, fractional counts, TPUs.
func TestFixturePlan(t *testing.T) {
	t.Parallel()
	cat := fixtureCatalog(t)
	tests := []struct {
		name     string
		r        task.Resources
		want     []string // placed(...) of every choice, in rank order
		wantCost float64  // of the first choice
	}{
		{
			name: "GCP A100 costs the a2 host plus the GPU",
			r:    task.Resources{Accelerators: gpus("A100", 1), UseSpot: true},
			want: []string{"gcp/us-central1/a2-highgpu-1g spot"}, wantCost: 0.29576 + 1.1472,
		},
		{
			name: "a zone's own spot price",
			r:    task.Resources{Accelerators: gpus("tpu-v6e-8", 1), UseSpot: true, Infra: task.Infra{Cloud: "gcp", Zone: "us-central1-c"}},
			want: []string{"gcp/us-central1/TPU-VM spot"}, wantCost: 6.8,
		},
		{
			name: "an AWS zone name is a zone of its region",
			r:    task.Resources{InstanceType: "m5.2xlarge", UseSpot: true, Infra: task.Infra{Cloud: "aws", Zone: "us-east-2c"}},
			want: []string{"aws/us-east-2/m5.2xlarge spot"}, wantCost: 0.1551,
		},
		{
			name: "an AWS zone ID picks its spot price",
			r:    task.Resources{InstanceType: "m5.2xlarge", UseSpot: true, Infra: task.Infra{Cloud: "aws", Zone: "use2-az2"}},
			want: []string{"aws/us-east-2/m5.2xlarge spot"}, wantCost: 0.1569,
		},
		{
			name: "a fractional count fits the instance type with that fraction",
			r:    task.Resources{Accelerators: gpus("L4", 0.125)},
			want: []string{"aws/us-east-1/g6f.large"}, wantCost: 0.2,
		},
		{
			name: "within SkyPilot's 0.01",
			r:    task.Resources{Accelerators: gpus("l4", 0.12)},
			want: []string{"aws/us-east-1/g6f.large"}, wantCost: 0.2,
		},
		{
			name: "L4:1 on every g2 size and on AWS g6",
			r:    task.Resources{Accelerators: gpus("L4", 1)},
			want: []string{"gcp/us-central1/g2-standard-4", "gcp/us-central1/g2-standard-8", "aws/us-east-2/g6.8xlarge"}, wantCost: 0.70683,
		},
		{
			name: "an N1 host alone is a CPU offering",
			r:    task.Resources{InstanceType: "n1-highmem-8"},
			want: []string{"gcp/us-central1/n1-highmem-8"}, wantCost: 0.47321,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cat.Plan(single(tc.r), Constraints{})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if diff := cmp.Diff(tc.want, placed(got)); diff != "" {
				t.Errorf("ranking (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCost, got[0].HourlyCost, approx); diff != "" {
				t.Errorf("cost of %s (-want +got):\n%s", placed(got[:1]), diff)
			}
		})
	}
}

func TestFixturePlanRefusals(t *testing.T) {
	t.Parallel()
	cat := fixtureCatalog(t)
	noTPU := cat.Refusing(func(o Offering) string {
		if o.TPU {
			return o.GPU + " is a TPU VM, which this engine does not start"
		}
		return ""
	})
	tests := []struct {
		name string
		cat  *Catalog
		r    task.Resources
		want []string
	}{
		{
			name: "T4:0.5: no instance type has half a T4",
			cat:  cat, r: task.Resources{Accelerators: gpus("T4", 0.5)},
			want: []string{"no offering has 0.5x T4", "a fractional count needs an instance type that has that fraction of a T4, as SkyPilot plans it, and none does: use one of T4:1, T4:2, T4:4"},
		},
		{
			name: "spot in a zone without spot",
			cat:  cat, r: task.Resources{InstanceType: "n2-standard-8", UseSpot: true, Infra: task.Infra{Cloud: "gcp", Zone: "us-central1-b"}},
			want: []string{"no fitting n2-standard-8 offering in gcp/*/us-central1-b has spot capacity in zone us-central1-b"},
		},
		{
			name: "a TPU where the engine refuses TPU VMs",
			cat:  noTPU, r: task.Resources{Accelerators: gpus("tpu-v6e-8", 1)},
			want: []string{"tpu-v6e-8 is a TPU VM, which this engine does not start"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.cat.Plan(single(tc.r), Constraints{})
			if !IsNoFit(err) {
				t.Fatalf("Plan = %v, %v; want a NoFitError", placed(got), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("reason %q\ndoes not contain %q", err.Error(), w)
				}
			}
		})
	}

	// Another candidate still fits: the refused TPU is not chosen.
	tk := task.Task{NumNodes: 1, Candidates: []task.Resources{{Accelerators: gpus("tpu-v6e-8", 1)}, {Accelerators: gpus("A100", 1)}}}
	got, err := noTPU.Plan(tk, Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"gcp/us-central1/a2-highgpu-1g"}, placed(got)); diff != "" {
		t.Errorf("any_of TPU or A100 (-want +got):\n%s", diff)
	}
}

// TestNodeClassOfAttachedAccelerators: an N1 host carries several GPUs
// and none; a node class names one offering.
func TestNodeClassOfAttachedAccelerators(t *testing.T) {
	t.Parallel()
	classes := map[string]string{}
	for _, o := range fixtureCatalog(t).Offerings() {
		for _, spot := range []bool{false, true} {
			c := Choice{Offering: o, Spot: spot}
			k := c.NodeClass()
			if prev, ok := classes[k]; ok {
				t.Errorf("node class %s names %s and %s", k, prev, o.Describe())
			}
			classes[k] = o.Describe()
		}
	}
	for _, want := range []string{
		"sky-gcp-us-central1-n1-highmem-8-on-demand",
		"sky-gcp-us-central1-n1-highmem-8-T4x2-spot",
		"sky-gcp-us-central1-n1-highmem-8-V100x1-on-demand",
		"sky-gcp-us-central1-TPU-VM-tpu-v6e-8x1-spot",
		"sky-gcp-us-central1-a2-highgpu-1g-spot",
		"sky-aws-us-east-1-g6f.large-spot",
	} {
		if _, ok := classes[want]; !ok {
			t.Errorf("no offering has node class %s", want)
		}
	}
}

// TestLoadPrefersTheCachedCopy: a cached copy that reads is used; one that
// does not falls back to the embedded copy and says why.
func TestLoadPrefersTheCachedCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	awsFixture, err := os.ReadFile(CachePath(fixtureDir, AWS))
	if err != nil {
		t.Fatal(err)
	}
	for cloud, data := range map[string]string{AWS: string(awsFixture), GCP: "not a catalog\n"} {
		path := CachePath(dir, cloud)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := Load(dir)
	origins := cat.Origins()
	if len(origins) != 2 {
		t.Fatalf("origins %v", origins)
	}
	if o := origins[0]; o.Cloud != AWS || o.Path != CachePath(dir, AWS) || o.Problem != "" {
		t.Errorf("aws origin %+v, want the cached copy", o)
	}
	if o := origins[1]; o.Cloud != GCP || o.Path != "" || !strings.Contains(o.Problem, "does not read") {
		t.Errorf("gcp origin %+v, want the embedded copy and the problem", o)
	}
	var aws, gcp int
	for _, o := range cat.Offerings() {
		switch o.Cloud {
		case AWS:
			aws++
		case GCP:
			gcp++
		}
	}
	if aws != len(readFixture(t, AWS)) || gcp == 0 {
		t.Errorf("%d AWS offerings (want the fixture's %d), %d GCP", aws, len(readFixture(t, AWS)), gcp)
	}
}
