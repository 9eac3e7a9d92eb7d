package catalog

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/task"
)

// testOfferings is a small hand-made catalog whose numbers the expectations
// below are worked out from.
func testOfferings() []Offering {
	cpu := func(cloud, region, it string, vcpus, mem, od, spot float64) Offering {
		return Offering{Cloud: cloud, Region: region, InstanceType: it, VCPUs: vcpus, MemoryGB: mem, OnDemandPrice: od, SpotPrice: spot}
	}
	gpu := func(cloud, region, it string, vcpus, mem float64, g string, n, od, spot float64) Offering {
		o := cpu(cloud, region, it, vcpus, mem, od, spot)
		o.GPU, o.GPUCount = g, n
		return o
	}
	return []Offering{
		cpu("aws", "us-east-1", "m6i.large", 2, 8, 0.096, 0.033),
		cpu("aws", "us-east-1", "m6i.xlarge", 4, 16, 0.192, 0.0717),
		cpu("aws", "us-east-1", "m6i.2xlarge", 8, 32, 0.384, 0.1429),
		cpu("aws", "us-east-1", "c6i.2xlarge", 8, 16, 0.34, 0.1611),
		cpu("aws", "us-east-1", "m6i.4xlarge", 16, 64, 0.768, 0.2247),
		cpu("aws", "us-west-2", "m6i.2xlarge", 8, 32, 0.384, 0.1369),
		cpu("gcp", "us-central1", "e2-standard-8", 8, 32, 0.26805, 0.10717),
		cpu("gcp", "us-central1", "n2-standard-8", 8, 32, 0.38847, 0.11104),
		gpu("aws", "us-east-1", "p4d.24xlarge", 96, 1152, "A100", 8, 32.7726, 5.0933),
		gpu("aws", "us-west-2", "p4d.24xlarge", 96, 1152, "A100", 8, 32.7726, 10.507),
		gpu("gcp", "us-central1", "a2-highgpu-8g", 96, 680, "A100", 8, 29.38708, 11.54364),
		gpu("gcp", "us-central1", "a3-highgpu-1g", 26, 234, "H100", 1, 5.38327, 2.52493),
		gpu("aws", "us-east-1", "p5.48xlarge", 192, 2048, "H100", 8, 98.32, 20.9934),
		gpu("gcp", "europe-west4", "g2-standard-4", 4, 16, "L4", 1, 0.74233, 0),
	}
}

func testLocal(cpus, memGB float64) Offering {
	return Offering{Cloud: LocalCloud, Region: "local", InstanceType: "local", VCPUs: cpus, MemoryGB: memGB}
}

func qty(v float64, atLeast bool) *task.Quantity { return &task.Quantity{Value: v, AtLeast: atLeast} }

// single is a task with one candidate.
func single(r task.Resources) task.Task {
	return task.Task{Name: "t", NumNodes: 1, Resources: r, Candidates: []task.Resources{r}}
}

func gpus(name string, count float64) []task.Accelerator {
	return []task.Accelerator{{Name: name, Count: count}}
}

// placed renders a choice as "cloud/region/instance" plus " spot" and the
// candidate index when the task has several.
func placed(cs []Choice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		s := c.Offering.Cloud + "/" + c.Offering.Region + "/" + c.Offering.InstanceType
		if c.Spot {
			s += " spot"
		}
		out[i] = s
	}
	return out
}

func TestPlanRanksHandMadeCatalog(t *testing.T) {
	t.Parallel()
	awsGCP := Constraints{Clouds: []string{"aws", "gcp"}}
	tests := []struct {
		name string
		task task.Task
		cons Constraints
		want []string
	}{
		{
			// SkyPilot's default: cpus 8+, memory 4 GB/vCPU, default families
			// only (no e2, no c6i with 2 GB/vCPU); ties by region.
			name: "no cpus or memory uses the default instance rules",
			task: single(task.Resources{}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/m6i.2xlarge", "aws/us-west-2/m6i.2xlarge", "gcp/us-central1/n2-standard-8", "aws/us-east-1/m6i.4xlarge"},
		},
		{
			name: "exact cpus keeps only that size",
			task: single(task.Resources{CPUs: qty(8, false)}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/m6i.2xlarge", "aws/us-west-2/m6i.2xlarge", "gcp/us-central1/n2-standard-8"},
		},
		{
			name: "at-least cpus keeps larger sizes",
			task: single(task.Resources{CPUs: qty(8, true)}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/m6i.2xlarge", "aws/us-west-2/m6i.2xlarge", "gcp/us-central1/n2-standard-8", "aws/us-east-1/m6i.4xlarge"},
		},
		{
			name: "an exact count no size has rounds up to the sizes above",
			task: single(task.Resources{CPUs: qty(3, false)}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/m6i.xlarge", "aws/us-east-1/m6i.2xlarge", "aws/us-west-2/m6i.2xlarge", "gcp/us-central1/n2-standard-8", "aws/us-east-1/m6i.4xlarge"},
		},
		{
			name: "exact small cpus with the default memory ratio",
			task: single(task.Resources{CPUs: qty(2, false)}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/m6i.large"},
		},
		{
			name: "explicit memory lifts the memory ratio",
			task: single(task.Resources{CPUs: qty(8, false), Memory: qty(16, false)}),
			cons: awsGCP,
			want: []string{"aws/us-east-1/c6i.2xlarge"},
		},
		{
			name: "instance type reaches a non-default family",
			task: single(task.Resources{InstanceType: "e2-standard-8"}),
			want: []string{"gcp/us-central1/e2-standard-8"},
		},
		{
			name: "spot accelerator request, cheapest spot first",
			task: single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true}),
			want: []string{"aws/us-east-1/p4d.24xlarge spot", "aws/us-west-2/p4d.24xlarge spot", "gcp/us-central1/a2-highgpu-8g spot"},
		},
		{
			name: "blocked region is skipped",
			task: single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true}),
			cons: Constraints{Blocked: []task.Infra{{Cloud: "aws", Region: "us-east-1"}}},
			want: []string{"aws/us-west-2/p4d.24xlarge spot", "gcp/us-central1/a2-highgpu-8g spot"},
		},
		{
			name: "preferred location ranks first",
			task: single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true}),
			cons: Constraints{Prefer: &task.Infra{Cloud: "gcp", Region: "us-central1"}},
			want: []string{"gcp/us-central1/a2-highgpu-8g spot", "aws/us-east-1/p4d.24xlarge spot", "aws/us-west-2/p4d.24xlarge spot"},
		},
		{
			name: "enabled clouds narrow the choice",
			task: single(task.Resources{Accelerators: gpus("A100", 8)}),
			cons: Constraints{Clouds: []string{"gcp"}},
			want: []string{"gcp/us-central1/a2-highgpu-8g"},
		},
		{
			name: "zone pin matches the region's offering",
			task: single(task.Resources{Accelerators: gpus("A100", 8), Infra: task.Infra{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a"}}),
			want: []string{"aws/us-east-1/p4d.24xlarge"},
		},
		{
			name: "wildcard cloud with a region",
			task: single(task.Resources{Accelerators: gpus("A100", 8), Infra: task.Infra{Cloud: "*", Region: "us-central1"}}),
			want: []string{"gcp/us-central1/a2-highgpu-8g"},
		},
		{
			name: "max hourly cost drops pricier offerings",
			task: single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true, MaxHourlyCost: 11}),
			want: []string{"aws/us-east-1/p4d.24xlarge spot", "aws/us-west-2/p4d.24xlarge spot"},
		},
	}
	cat := New(testOfferings())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cat.Plan(tc.task, tc.cons)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if diff := cmp.Diff(tc.want, placed(got)); diff != "" {
				t.Errorf("ranking (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanCandidates(t *testing.T) {
	t.Parallel()
	a100 := task.Resources{Accelerators: gpus("A100", 8)}
	h100 := task.Resources{Accelerators: gpus("H100", 1)}
	cat := New(testOfferings())

	t.Run("ordered keeps the user's order before cost", func(t *testing.T) {
		t.Parallel()
		tk := task.Task{NumNodes: 1, Candidates: []task.Resources{a100, h100}, Ordered: true}
		got, err := cat.Plan(tk, Constraints{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"gcp/us-central1/a2-highgpu-8g", "aws/us-east-1/p4d.24xlarge", "aws/us-west-2/p4d.24xlarge", "gcp/us-central1/a3-highgpu-1g"}
		if diff := cmp.Diff(want, placed(got)); diff != "" {
			t.Errorf("ranking (-want +got):\n%s", diff)
		}
	})
	t.Run("unordered candidates go cheapest first", func(t *testing.T) {
		t.Parallel()
		tk := task.Task{NumNodes: 1, Candidates: []task.Resources{a100, h100}}
		got, err := cat.Plan(tk, Constraints{})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Offering.InstanceType != "a3-highgpu-1g" || got[0].Candidate != 1 {
			t.Errorf("first choice = %+v, want the H100 candidate on a3-highgpu-1g", got[0])
		}
	})
	t.Run("any_of spot or on-demand picks the cheaper capacity", func(t *testing.T) {
		t.Parallel()
		spot := h100
		spot.UseSpot = true
		tk := task.Task{NumNodes: 1, Candidates: []task.Resources{spot, h100}}
		got, err := cat.Plan(tk, Constraints{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"gcp/us-central1/a3-highgpu-1g spot", "gcp/us-central1/a3-highgpu-1g"}
		if diff := cmp.Diff(want, placed(got)); diff != "" {
			t.Errorf("ranking (-want +got):\n%s", diff)
		}
		if got[0].Candidate != 0 || got[1].Candidate != 1 {
			t.Errorf("candidates = %d, %d; want 0, 1", got[0].Candidate, got[1].Candidate)
		}
	})
	t.Run("cost covers every node", func(t *testing.T) {
		t.Parallel()
		tk := single(h100)
		tk.NumNodes = 3
		got, err := cat.Plan(tk, Constraints{})
		if err != nil {
			t.Fatal(err)
		}
		if want := 3 * got[0].Offering.OnDemandPrice; math.Abs(got[0].HourlyCost-want) > 1e-9 {
			t.Errorf("HourlyCost = %v, want %v", got[0].HourlyCost, want)
		}
	})
}

func TestPlanLocal(t *testing.T) {
	t.Parallel()
	small := New([]Offering{testLocal(2, 4)})
	mixed := New(testOfferings()).With(testLocal(2, 4))
	local := task.Infra{Cloud: "local"}
	tests := []struct {
		name    string
		cat     *Catalog
		task    task.Task
		want    []string
		wantErr string
	}{
		{
			name: "no request fits the host whatever its size",
			cat:  small,
			task: single(task.Resources{Infra: local}),
			want: []string{"local/local/local"},
		},
		{
			name: "local infra matches only the local offering",
			cat:  mixed,
			task: single(task.Resources{Infra: local, CPUs: qty(1, true)}),
			want: []string{"local/local/local"},
		},
		{
			name: "any infra includes the free local host first",
			cat:  mixed,
			task: single(task.Resources{CPUs: qty(2, true)}),
			want: []string{"local/local/local", "aws/us-east-1/m6i.large", "aws/us-east-1/m6i.xlarge", "aws/us-east-1/m6i.2xlarge", "aws/us-west-2/m6i.2xlarge", "gcp/us-central1/n2-standard-8", "aws/us-east-1/m6i.4xlarge"},
		},
		{
			name:    "too few CPUs",
			cat:     small,
			task:    single(task.Resources{Infra: local, CPUs: qty(8, true)}),
			wantErr: "this host has 2 CPUs; the task asks for 8+",
		},
		{
			name:    "too little memory",
			cat:     small,
			task:    single(task.Resources{Infra: local, Memory: qty(32, true)}),
			wantErr: "this host has 4 GB of memory; the task asks for 32+ GB",
		},
		{
			name:    "no GPU",
			cat:     mixed,
			task:    single(task.Resources{Infra: local, Accelerators: gpus("A100", 8)}),
			wantErr: "this host has no GPU; the task asks for A100:8",
		},
		{
			name: "spot runs here: fault injection preempts it",
			cat:  small,
			task: single(task.Resources{Infra: local, UseSpot: true}),
			want: []string{"local/local/local spot"},
		},
		{
			name: "an exact CPU count fits a larger host",
			cat:  small,
			task: single(task.Resources{Infra: local, CPUs: qty(1, false), Memory: qty(2, false)}),
			want: []string{"local/local/local"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.cat.Plan(tc.task, Constraints{})
			if tc.wantErr != "" {
				if !IsNoFit(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Plan error = %v, want a NoFitError containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if diff := cmp.Diff(tc.want, placed(got)); diff != "" {
				t.Errorf("ranking (-want +got):\n%s", diff)
			}
			if got[0].Offering.Cloud == LocalCloud && got[0].HourlyCost != 0 {
				t.Errorf("local HourlyCost = %v, want 0", got[0].HourlyCost)
			}
		})
	}
}

func TestPlanNoFitReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		task task.Task
		cons Constraints
		want []string // substrings of the reason
	}{
		{
			name: "accelerator count not offered where asked",
			task: single(task.Resources{Accelerators: gpus("H100", 4), Infra: task.Infra{Cloud: "aws", Region: "us-east-1"}}),
			want: []string{"no offering has 4x H100 in aws/us-east-1", "H100 is offered in: aws us-east-1 (p5.48xlarge: 8x H100), gcp us-central1 (a3-highgpu-1g: 1x H100)"},
		},
		{
			name: "unknown accelerator",
			task: single(task.Resources{Accelerators: gpus("B200", 8)}),
			want: []string{"no offering has 8x B200", "the catalog has no B200 (accelerators: A100, H100, L4)"},
		},
		{
			name: "unknown region",
			task: single(task.Resources{Infra: task.Infra{Cloud: "aws", Region: "ap-south-1"}}),
			want: []string{"aws has no region ap-south-1 here (regions: us-east-1, us-west-2)"},
		},
		{
			name: "unknown cloud",
			task: single(task.Resources{Infra: task.Infra{Cloud: "azure"}}),
			want: []string{"the catalog has no offering in azure (clouds: aws, gcp)"},
		},
		{
			name: "cloud not enabled",
			task: single(task.Resources{Infra: task.Infra{Cloud: "aws"}}),
			cons: Constraints{Clouds: []string{"gcp"}},
			want: []string{"aws is not enabled (enabled: gcp)"},
		},
		{
			name: "kubernetes infra",
			task: single(task.Resources{Infra: task.Infra{Cloud: "k8s"}}),
			want: []string{"infra k8s is not supported"},
		},
		{
			name: "exact cpus beyond every size",
			task: single(task.Resources{CPUs: qty(1000, false)}),
			want: []string{"no offering has exactly 1000 vCPUs"},
		},
		{
			name: "no spot capacity",
			task: single(task.Resources{Accelerators: gpus("L4", 1), UseSpot: true}),
			want: []string{"no fitting L4:1 offering has spot capacity (gcp europe-west4 g2-standard-4)"},
		},
		{
			name: "every fitting location blocked",
			task: single(task.Resources{Accelerators: gpus("H100", 1)}),
			cons: Constraints{Blocked: []task.Infra{{Cloud: "gcp", Region: "us-central1"}}},
			want: []string{"blocked after earlier attempts (gcp/us-central1)"},
		},
		{
			name: "over the hourly budget",
			task: single(task.Resources{Accelerators: gpus("A100", 8), MaxHourlyCost: 10}),
			want: []string{"the cheapest fitting offering (gcp us-central1 a2-highgpu-8g) costs $29.39 an hour; max_hourly_cost is $10.00"},
		},
		{
			name: "every candidate fails differently",
			task: task.Task{NumNodes: 1, Candidates: []task.Resources{
				{Accelerators: gpus("H100", 2)},
				{Accelerators: gpus("L4", 1), UseSpot: true},
			}},
			want: []string{"no candidate fits (H100:2: no offering has 2x H100", "; L4:1 (spot): no fitting L4:1 offering has spot capacity"},
		},
	}
	cat := New(testOfferings())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cat.Plan(tc.task, tc.cons)
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
}

func TestIsNoFitSeesWrappedErrors(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("job 3: %w", NoFit("no room"))
	if !IsNoFit(err) {
		t.Errorf("IsNoFit(%v) = false", err)
	}
	if IsNoFit(fmt.Errorf("other")) {
		t.Error("IsNoFit(plain error) = true")
	}
}

// The tests below run on the embedded catalog; their expectations come from
// its data, so a price refresh does not break them.

func TestDefaultPlanSpotPicksCheapestRegion(t *testing.T) {
	t.Parallel()
	cat := Default()
	got, err := cat.Plan(single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true}), Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	cheapest := math.Inf(1)
	n := 0
	for _, o := range cat.Offerings() {
		if o.GPU == "A100" && o.GPUCount == 8 && o.SpotPrice > 0 {
			cheapest = math.Min(cheapest, o.SpotPrice)
			n++
		}
	}
	if len(got) != n {
		t.Errorf("%d choices, want one per A100:8 spot offering (%d)", len(got), n)
	}
	if got[0].HourlyCost != cheapest {
		t.Errorf("chosen %v at %v, want the cheapest spot price %v", placed(got[:1]), got[0].HourlyCost, cheapest)
	}
	for i := 1; i < len(got); i++ {
		if got[i].HourlyCost < got[i-1].HourlyCost {
			t.Errorf("choice %d costs less than choice %d", i, i-1)
		}
	}

	// Blocking the chosen region moves the job elsewhere.
	first := got[0].Offering
	blocked, err := cat.Plan(single(task.Resources{Accelerators: gpus("A100", 8), UseSpot: true}),
		Constraints{Blocked: []task.Infra{{Cloud: first.Cloud, Region: first.Region}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range blocked {
		if c.Offering.Cloud == first.Cloud && c.Offering.Region == first.Region {
			t.Errorf("blocked location %s/%s still chosen", first.Cloud, first.Region)
		}
	}
}

func TestDefaultPlanOrderedRegions(t *testing.T) {
	t.Parallel()
	// examples/ordered.yaml
	l4 := gpus("L4", 1)
	tk := task.Task{NumNodes: 1, Ordered: true, Candidates: []task.Resources{
		{Accelerators: l4, Infra: task.Infra{Cloud: "gcp", Region: "us-central1"}},
		{Accelerators: l4, Infra: task.Infra{Cloud: "aws", Region: "us-east-1"}},
		{Accelerators: l4, Infra: task.Infra{Cloud: "aws", Region: "us-west-2"}},
	}}
	got, err := Default().Plan(tk, Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i, c := range got {
		seen[c.Candidate] = true
		want := tk.Candidates[c.Candidate].Infra
		if c.Offering.Cloud != want.Cloud || c.Offering.Region != want.Region {
			t.Errorf("choice %d in %s/%s, outside its candidate's infra %s/%s", i, c.Offering.Cloud, c.Offering.Region, want.Cloud, want.Region)
		}
		if i > 0 {
			prev := got[i-1]
			if c.Candidate < prev.Candidate || (c.Candidate == prev.Candidate && c.HourlyCost < prev.HourlyCost) {
				t.Errorf("choice %d (candidate %d, $%v) ranked after choice %d (candidate %d, $%v)", i, c.Candidate, c.HourlyCost, i-1, prev.Candidate, prev.HourlyCost)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("candidates with choices: %v, want all 3", seen)
	}
}

func TestDefaultPlanAnyOfPicksCheapest(t *testing.T) {
	t.Parallel()
	// examples/any-of.yaml: {H100: 1, A100-80GB: 1} x {spot, on-demand}.
	var cands []task.Resources
	for _, g := range []string{"H100", "A100-80GB"} {
		for _, spot := range []bool{true, false} {
			cands = append(cands, task.Resources{Accelerators: gpus(g, 1), UseSpot: spot})
		}
	}
	got, err := Default().Plan(task.Task{NumNodes: 1, Candidates: cands}, Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].HourlyCost < got[0].HourlyCost {
			t.Fatalf("choice %d ($%v) is cheaper than the chosen one ($%v)", i, got[i].HourlyCost, got[0].HourlyCost)
		}
	}
	if !got[0].Spot {
		t.Errorf("chosen %v is on-demand; spot is cheaper in every listed location", placed(got[:1]))
	}
}

func TestDefaultPlanNoFitNamesWhereTheGPUIs(t *testing.T) {
	t.Parallel()
	_, err := Default().Plan(single(task.Resources{Accelerators: gpus("H100", 4), Infra: task.Infra{Cloud: "aws", Region: "eu-west-1"}}), Constraints{})
	if !IsNoFit(err) {
		t.Fatalf("Plan error = %v, want a NoFitError", err)
	}
	for _, w := range []string{"no offering has 4x H100 in aws/eu-west-1", "H100 is offered in: ", "aws us-east-1 (p5.48xlarge: 8x H100)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("reason %q\ndoes not contain %q", err.Error(), w)
		}
	}
}
