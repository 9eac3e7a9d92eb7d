package catalog

import (
	"testing"
	"time"
)

// TestEmbeddedData checks data/offerings.csv: the GPU coverage the product
// promises, at least three regions per cloud, sane prices, and one row per
// cloud, region and instance type (node classes depend on it).
func TestEmbeddedData(t *testing.T) {
	t.Parallel()
	cat := Default()
	offs := cat.Offerings()
	if len(offs) == 0 {
		t.Fatal("embedded catalog is empty")
	}
	if _, err := time.Parse("2006-01-02", cat.PricesReadOn()); err != nil {
		t.Errorf("PricesReadOn = %q, want a YYYY-MM-DD date: %v", cat.PricesReadOn(), err)
	}

	gpusBy := map[string]map[string]bool{}
	regionsBy := map[string]map[string]bool{}
	seen := map[[3]string]bool{}
	for _, o := range offs {
		where := o.Cloud + "/" + o.Region + "/" + o.InstanceType
		key := [3]string{o.Cloud, o.Region, o.InstanceType}
		if seen[key] {
			t.Errorf("%s: listed twice", where)
		}
		seen[key] = true
		if o.Cloud != "aws" && o.Cloud != "gcp" {
			t.Errorf("%s: unexpected cloud", where)
		}
		if o.VCPUs <= 0 || o.MemoryGB <= 0 {
			t.Errorf("%s: vCPUs %v, memory %v GB", where, o.VCPUs, o.MemoryGB)
		}
		if o.OnDemandPrice <= 0 {
			t.Errorf("%s: on-demand price %v", where, o.OnDemandPrice)
		}
		if o.SpotPrice < 0 || (o.SpotPrice > 0 && o.SpotPrice >= o.OnDemandPrice) {
			t.Errorf("%s: spot price %v not below on-demand %v", where, o.SpotPrice, o.OnDemandPrice)
		}
		if (o.GPU == "") != (o.GPUCount == 0) {
			t.Errorf("%s: GPU %q count %v", where, o.GPU, o.GPUCount)
		}
		if gpusBy[o.Cloud] == nil {
			gpusBy[o.Cloud], regionsBy[o.Cloud] = map[string]bool{}, map[string]bool{}
		}
		regionsBy[o.Cloud][o.Region] = true
		if o.GPU != "" {
			gpusBy[o.Cloud][o.GPU] = true
		}
	}

	want := map[string][]string{
		"aws": {"T4", "L4", "A10G", "V100", "A100", "A100-80GB", "H100", "H200"},
		"gcp": {"T4", "L4", "V100", "A100", "A100-80GB", "H100", "H200"}, // GCP has no A10G
	}
	for cloud, list := range want {
		for _, g := range list {
			if !gpusBy[cloud][g] {
				t.Errorf("%s: no %s offering", cloud, g)
			}
		}
		if n := len(regionsBy[cloud]); n < 3 {
			t.Errorf("%s: %d regions, want at least 3", cloud, n)
		}
	}
}
