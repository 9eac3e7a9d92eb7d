package catalog

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ListQuery says what List lists (skynomad catalog ls, the counterpart
// of sky show-gpus).
type ListQuery struct {
	// GPUs lists the accelerators (GPUs, TPUs, Inferentia, ...) rather
	// than every instance type.
	GPUs bool
	// Name lists one accelerator, in any case, optionally with a count
	// (A100, a100:8); it implies GPUs.
	Name string
	// Cloud and Region narrow the offerings ("" for all).
	Cloud, Region string
}

// Listing is one instance type (with its accelerator) of one cloud, with
// its cheapest on-demand and spot prices over the regions listed.
type Listing struct {
	Cloud        string
	InstanceType string
	// Accelerator and Count are "" and 0 for an instance type without one.
	Accelerator string
	Count       float64
	TPU         bool
	VCPUs       float64
	MemoryGB    float64
	// OnDemandPrice is the lowest hourly on-demand price, in OnDemandRegion.
	OnDemandPrice  float64
	OnDemandRegion string
	// SpotPrice is the lowest hourly spot price, in SpotRegion; 0 when no
	// region listed has spot capacity.
	SpotPrice  float64
	SpotRegion string
}

// List groups the offerings that q selects by cloud, instance type and
// accelerator, cheapest price first within each. Accelerators are listed
// by name (TPUs last), count and price; instance types by cloud, family
// and size. A
// query that selects nothing is an error saying what the catalog has.
func (c *Catalog) List(q ListQuery) ([]Listing, error) {
	name, count, hasCount := strings.Cut(q.Name, ":")
	name = strings.TrimSpace(name)
	var want float64
	if hasCount {
		v, err := strconv.ParseFloat(strings.TrimSpace(count), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: the count %q is not a positive number (e.g. A100:8)", q.Name, count)
		}
		want = v
	}
	gpus := q.GPUs || name != ""
	offs := c.get().offerings

	type key struct {
		cloud, instance, acc string
		count                float64
	}
	byKey := map[key]*Listing{}
	var out []*Listing
	clouds, regions, accs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range offs {
		o := &offs[i]
		clouds[o.Cloud] = true
		if q.Cloud != "" && !strings.EqualFold(o.Cloud, q.Cloud) {
			continue
		}
		regions[o.Region] = true
		if q.Region != "" && !strings.EqualFold(o.Region, q.Region) {
			continue
		}
		if o.GPU != "" {
			accs[o.GPU] = true
		}
		if gpus && o.GPU == "" ||
			name != "" && !strings.EqualFold(o.GPU, name) ||
			hasCount && math.Abs(o.GPUCount-want) > accTolerance+eps {
			continue
		}
		k := key{o.Cloud, o.InstanceType, o.GPU, o.GPUCount}
		l := byKey[k]
		if l == nil {
			l = &Listing{Cloud: o.Cloud, InstanceType: o.InstanceType, Accelerator: o.GPU, Count: o.GPUCount,
				TPU: o.TPU, VCPUs: o.VCPUs, MemoryGB: o.MemoryGB, OnDemandPrice: math.Inf(1)}
			byKey[k] = l
			out = append(out, l)
		}
		if o.OnDemandPrice < l.OnDemandPrice || o.OnDemandPrice == l.OnDemandPrice && o.Region < l.OnDemandRegion {
			l.OnDemandPrice, l.OnDemandRegion = o.OnDemandPrice, o.Region
		}
		if o.SpotPrice > 0 && (l.SpotPrice == 0 || o.SpotPrice < l.SpotPrice || o.SpotPrice == l.SpotPrice && o.Region < l.SpotRegion) {
			l.SpotPrice, l.SpotRegion = o.SpotPrice, o.Region
		}
	}
	if len(out) == 0 {
		return nil, noListing(q, name, clouds, regions, accs)
	}
	slices.SortStableFunc(out, func(a, b *Listing) int {
		if gpus {
			if a.TPU != b.TPU {
				return map[bool]int{false: -1, true: 1}[a.TPU]
			}
			if c := strings.Compare(strings.ToLower(a.Accelerator), strings.ToLower(b.Accelerator)); c != 0 {
				return c
			}
			if a.Count != b.Count {
				return cmpFloat(a.Count, b.Count)
			}
			if a.Cloud != b.Cloud {
				return strings.Compare(a.Cloud, b.Cloud)
			}
			if a.OnDemandPrice != b.OnDemandPrice {
				return cmpFloat(a.OnDemandPrice, b.OnDemandPrice)
			}
			return strings.Compare(a.InstanceType, b.InstanceType)
		}
		if a.Cloud != b.Cloud {
			return strings.Compare(a.Cloud, b.Cloud)
		}
		if fa, fb := Family(a.InstanceType), Family(b.InstanceType); fa != fb {
			return strings.Compare(fa, fb)
		}
		if a.VCPUs != b.VCPUs {
			return cmpFloat(a.VCPUs, b.VCPUs)
		}
		if a.MemoryGB != b.MemoryGB {
			return cmpFloat(a.MemoryGB, b.MemoryGB)
		}
		if a.InstanceType != b.InstanceType {
			return strings.Compare(a.InstanceType, b.InstanceType)
		}
		return strings.Compare(a.Accelerator, b.Accelerator)
	})
	list := make([]Listing, len(out))
	for i, l := range out {
		list[i] = *l
	}
	return list, nil
}

// noListing says why a query selects nothing.
func noListing(q ListQuery, name string, clouds, regions, accs map[string]bool) error {
	sorted := func(set map[string]bool) string {
		var s []string
		for k := range set {
			s = append(s, k)
		}
		slices.Sort(s)
		return strings.Join(s, ", ")
	}
	where := "the catalog"
	if q.Cloud != "" {
		where = q.Cloud
	}
	switch {
	case q.Cloud != "" && !containsFold(clouds, q.Cloud):
		return fmt.Errorf("the catalog has no cloud %s (clouds: %s)", q.Cloud, sorted(clouds))
	case q.Region != "" && !containsFold(regions, q.Region):
		return fmt.Errorf("%s has no region %s (regions: %s)", where, q.Region, sorted(regions))
	case name != "" && !containsFold(accs, name):
		return fmt.Errorf("%s has no accelerator %s (accelerators: %s)", where, name, sorted(accs))
	case name != "":
		return fmt.Errorf("%s has no %s", where, q.Name)
	}
	return fmt.Errorf("%s has no accelerator", where)
}

func containsFold(set map[string]bool, s string) bool {
	for k := range set {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

// Family is an instance type without its size: m6i (m6i.2xlarge),
// n2-standard (n2-standard-8).
func Family(instanceType string) string {
	if i := strings.IndexByte(instanceType, '.'); i >= 0 {
		return instanceType[:i]
	}
	if i := strings.LastIndexByte(instanceType, '-'); i >= 0 {
		return instanceType[:i]
	}
	return instanceType
}
