package catalog

import (
	"testing"
)

// TestEmbeddedData checks the embedded copy of SkyPilot's catalog
// (data/v7): it reads, both clouds are there, every offering is sane, and
// one node class names one offering (the Nomad side depends on it).
func TestEmbeddedData(t *testing.T) {
	t.Parallel()
	cat := Default()
	offs := cat.Offerings()
	byCloud := map[string]int{}
	classes := map[string]bool{}
	for _, o := range offs {
		where := o.Cloud + "/" + o.Region + "/" + o.InstanceType
		byCloud[o.Cloud]++
		if o.VCPUs <= 0 || o.MemoryGB <= 0 {
			t.Errorf("%s: vCPUs %v, memory %v GB", where, o.VCPUs, o.MemoryGB)
		}
		if o.OnDemandPrice <= 0 {
			t.Errorf("%s: on-demand price %v", where, o.OnDemandPrice)
		}
		if (o.GPU == "") != (o.GPUCount == 0) {
			t.Errorf("%s: GPU %q count %v", where, o.GPU, o.GPUCount)
		}
		if len(o.Zones) == 0 {
			t.Errorf("%s: no zone", where)
		}
		lowest := 0.0
		for zone, p := range o.ZoneSpotPrices {
			if p <= 0 {
				t.Errorf("%s: zone %s spot price %v", where, zone, p)
			}
			if lowest == 0 || p < lowest {
				lowest = p
			}
		}
		if lowest != o.SpotPrice {
			t.Errorf("%s: spot price %v, lowest zone's %v", where, o.SpotPrice, lowest)
		}
		class := Choice{Offering: o}.NodeClass()
		if classes[class] {
			t.Errorf("%s: node class %s names two offerings", where, class)
		}
		classes[class] = true
	}
	for _, cloud := range Clouds() {
		if byCloud[cloud] == 0 {
			t.Errorf("no %s offering", cloud)
		}
	}
	for _, o := range cat.Origins() {
		if o.Path != "" || o.ReadOn.IsZero() {
			t.Errorf("origin %+v, want the embedded copy with its date", o)
		}
	}
}
