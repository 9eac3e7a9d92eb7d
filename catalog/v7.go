package catalog

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SchemaVersion is the version of SkyPilot's catalog format this package
// reads (github.com/skypilot-org/skypilot-catalog, catalogs/v7/<cloud>/vms.csv).
const SchemaVersion = "v7"

// The clouds whose SkyPilot catalog files the package reads.
const (
	AWS = "aws"
	GCP = "gcp"
)

// Clouds lists the clouds of SkyPilot's catalog that skynomad reads.
func Clouds() []string { return []string{AWS, GCP} }

// TPUInstanceType is the instance type of a Cloud TPU VM, as SkyPilot
// names it.
const TPUInstanceType = "TPU-VM"

// Columns of vms.csv that every cloud's file has; GpuInfo is not read.
const (
	colInstanceType = "InstanceType"
	colAccName      = "AcceleratorName"
	colAccCount     = "AcceleratorCount"
	colVCPUs        = "vCPUs"
	colMemory       = "MemoryGiB"
	colPrice        = "Price"
	colSpotPrice    = "SpotPrice"
	colRegion       = "Region"
	colZone         = "AvailabilityZone"
)

// v7Columns are the columns read, in the order of the f* indexes.
var v7Columns = []string{colInstanceType, colAccName, colAccCount, colVCPUs, colMemory, colPrice, colSpotPrice, colRegion, colZone}

const (
	fInstanceType = iota
	fAccName
	fAccCount
	fVCPUs
	fMemory
	fPrice
	fSpotPrice
	fRegion
	fZone
)

// ReadV7 reads one cloud's vms.csv of SkyPilot's v7 catalog and returns
// one offering per region and instance type (per region, host machine type
// and accelerator on GCP). Columns are found by header name. A row without
// an on-demand price is left out, as SkyPilot does. Each offering carries
// the region's on-demand price (the lowest, should zones differ), every
// zone's spot price (ZoneSpotPrices; SpotPrice is the lowest) and its
// zones in file order: AWS zones are zone IDs (use1-az1), the same in
// every account; GCP zones are zone names.
//
// GCP lists a GPU apart from the machine it attaches to: an offering adds
// the host's price to the accelerator's, on-demand and spot each, in every
// zone that has both. The hosts are SkyPilot's (sky/catalog/gcp_catalog.py):
// the a2, a3, a4 and g2 machine types that come with A100, A100-80GB, H100,
// H100-MEGA, H200, B200 or L4 (every size listed for the count), and for
// other GPUs the cheapest N1 machine with SkyPilot's default vCPUs for the
// count and 4 GB of memory per vCPU. Those a2/a3/a4/g2 machine types are not
// offered without their GPUs. TPU rows become TPU VM offerings (TPU set,
// InstanceType TPU-VM, GPU the slice such as tpu-v6e-8), priced as the TPU
// alone, with the vCPUs and memory SkyPilot assumes for a TPU VM.
func ReadV7(cloud string, r io.Reader) ([]Offering, error) {
	var offs []Offering
	switch cloud {
	case AWS:
		var g aggregator
		if err := readV7Rows(r, func(row v7Row) { awsRow(&g, row) }); err != nil {
			return nil, err
		}
		offs = g.offerings()
	case GCP:
		var rows []v7Row
		if err := readV7Rows(r, func(row v7Row) { rows = append(rows, row) }); err != nil {
			return nil, err
		}
		offs = gcpOfferings(rows)
	default:
		return nil, fmt.Errorf("cloud %q: want %s or %s", cloud, AWS, GCP)
	}
	if len(offs) == 0 {
		return nil, fmt.Errorf("%s vms.csv: no priced row", cloud)
	}
	return offs, nil
}

// v7Row is one priced row of vms.csv.
type v7Row struct {
	instanceType, accName string
	accCount              float64
	vcpus, memory         float64 // 0: not given (GCP accelerator rows)
	price, spot           float64 // spot 0: no spot price
	region, zone          string
}

// readV7Rows parses the rows of a vms.csv and hands each one with an
// on-demand price to each, in file order. Errors name the line and the
// column.
func readV7Rows(r io.Reader, each func(v7Row)) error {
	cr := csv.NewReader(r) // every row as many fields as the header: a cut row is an error
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("vms.csv is empty")
	}
	if err != nil {
		return fmt.Errorf("vms.csv header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[strings.TrimSpace(name)] = i
	}
	idx := make([]int, len(v7Columns))
	for i, name := range v7Columns {
		j, ok := col[name]
		if !ok {
			return fmt.Errorf("vms.csv header: no column %s, which SkyPilot's %s catalog has", name, SchemaVersion)
		}
		idx[i] = j
	}
	// Names repeat on thousands of rows: keep one copy of each.
	intern := map[string]string{}
	str := func(s string) string {
		s = strings.TrimSpace(s)
		if v, ok := intern[s]; ok {
			return v
		}
		s = strings.Clone(s)
		intern[s] = s
		return s
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("vms.csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		field := func(c int) string {
			if j := idx[c]; j < len(rec) {
				return strings.TrimSpace(rec[j])
			}
			return ""
		}
		num := func(c int) (float64, error) {
			s := field(c)
			if s == "" {
				return 0, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return 0, fmt.Errorf("vms.csv line %d: %s %q is not a number of at least 0", line, v7Columns[c], s)
			}
			return v, nil
		}
		if field(fPrice) == "" {
			continue
		}
		row := v7Row{
			instanceType: str(field(fInstanceType)), accName: str(field(fAccName)),
			region: str(field(fRegion)), zone: str(field(fZone)),
		}
		for _, f := range []struct {
			c   int
			dst *float64
		}{{fAccCount, &row.accCount}, {fVCPUs, &row.vcpus}, {fMemory, &row.memory}, {fPrice, &row.price}, {fSpotPrice, &row.spot}} {
			if *f.dst, err = num(f.c); err != nil {
				return err
			}
		}
		if row.region == "" || row.zone == "" {
			return fmt.Errorf("vms.csv line %d: no %s or %s", line, colRegion, colZone)
		}
		if row.instanceType == "" && row.accName == "" {
			return fmt.Errorf("vms.csv line %d: neither %s nor %s", line, colInstanceType, colAccName)
		}
		if row.accName != "" && row.accCount == 0 {
			row.accCount = 1
		}
		each(row)
	}
	return nil
}

// aggregate gathers the rows of one offering.
type aggregate struct {
	o    Offering
	spot map[string]float64
}

func newAggregate(o Offering) *aggregate {
	o.OnDemandPrice = math.Inf(1)
	return &aggregate{o: o, spot: map[string]float64{}}
}

// add records one zone's prices.
func (a *aggregate) add(zone string, price, spot float64) {
	a.o.OnDemandPrice = min(a.o.OnDemandPrice, price)
	if !slices.Contains(a.o.Zones, zone) {
		a.o.Zones = append(a.o.Zones, zone)
	}
	if spot > 0 {
		if old, ok := a.spot[zone]; !ok || spot < old {
			a.spot[zone] = spot
		}
	}
}

func (a *aggregate) offering() Offering {
	o := a.o
	if len(a.spot) > 0 {
		o.ZoneSpotPrices = a.spot
		o.SpotPrice = math.Inf(1)
		for _, p := range a.spot {
			o.SpotPrice = min(o.SpotPrice, p)
		}
	}
	return o
}

// aggregator keeps offerings in the order of their first row.
type aggregator struct {
	byKey map[offeringKey]*aggregate
	order []*aggregate
}

// offeringKey tells offerings apart: region, instance type, accelerator.
type offeringKey struct {
	region, instanceType, acc string
	count                     float64
}

func (g *aggregator) get(key offeringKey, o Offering) *aggregate {
	if g.byKey == nil {
		g.byKey = map[offeringKey]*aggregate{}
	}
	a := g.byKey[key]
	if a == nil {
		a = newAggregate(o)
		g.byKey[key] = a
		g.order = append(g.order, a)
	}
	return a
}

func (g *aggregator) offerings() []Offering {
	out := make([]Offering, len(g.order))
	for i, a := range g.order {
		out[i] = a.offering()
	}
	return out
}

// awsRow adds a row of AWS's vms.csv: one row per zone of an instance type.
func awsRow(g *aggregator, r v7Row) {
	if r.instanceType == "" || r.vcpus == 0 {
		return
	}
	g.get(offeringKey{region: r.region, instanceType: r.instanceType}, Offering{
		Cloud: AWS, Region: r.region, InstanceType: r.instanceType,
		VCPUs: r.vcpus, MemoryGB: r.memory, GPU: r.accName, GPUCount: gpuCount(r),
	}).add(r.zone, r.price, r.spot)
}

func gpuCount(r v7Row) float64 {
	if r.accName == "" {
		return 0
	}
	return r.accCount
}

// gcpAcceleratorHosts are the GCP machine types that come with their GPUs:
// accelerator → count → machine types (_ACC_INSTANCE_TYPE_DICTS in
// SkyPilot's sky/catalog/gcp_catalog.py).
var gcpAcceleratorHosts = map[string]map[float64][]string{
	"A100":      {1: {"a2-highgpu-1g"}, 2: {"a2-highgpu-2g"}, 4: {"a2-highgpu-4g"}, 8: {"a2-highgpu-8g"}, 16: {"a2-megagpu-16g"}},
	"A100-80GB": {1: {"a2-ultragpu-1g"}, 2: {"a2-ultragpu-2g"}, 4: {"a2-ultragpu-4g"}, 8: {"a2-ultragpu-8g"}},
	"L4": {
		1: {"g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16", "g2-standard-32"},
		2: {"g2-standard-24"}, 4: {"g2-standard-48"}, 8: {"g2-standard-96"},
	},
	"H100":      {1: {"a3-highgpu-1g"}, 2: {"a3-highgpu-2g"}, 4: {"a3-highgpu-4g"}, 8: {"a3-highgpu-8g"}},
	"H100-MEGA": {8: {"a3-megagpu-8g"}},
	"H200":      {8: {"a3-ultragpu-8g"}},
	"B200":      {8: {"a4-highgpu-8g"}},
}

// gcpHostVCPUs are the vCPUs SkyPilot gives the N1 host of a GPU count
// (_NUM_ACC_TO_NUM_CPU); other GPUs use DEFAULT.
var gcpHostVCPUs = map[string]map[float64]float64{
	"K80":     {1: 4, 2: 8, 4: 16, 8: 32, 16: 64},
	"V100":    {1: 8, 2: 16, 4: 32, 8: 64},
	"T4":      {1: 4, 2: 8, 4: 48},
	"P100":    {1: 8, 2: 16, 4: 32, 8: 64},
	"DEFAULT": {1: 8, 2: 16, 4: 32, 8: 64, 16: 128},
}

// gcpHostMemPerVCPU is SkyPilot's minimum memory per vCPU of an N1 GPU host.
const gcpHostMemPerVCPU = 4

var gcpN1Families = []string{"n1-standard-", "n1-highmem-", "n1-highcpu-"}

// tpuVMShape is what SkyPilot assumes a TPU VM has: 96 vCPUs and 334 GB,
// or 240 and 400 for TPU v4 (sky/clouds/gcp.py).
func tpuVMShape(name string) (vcpus, memGB float64) {
	if strings.Contains(name, "v4") {
		return 240, 400
	}
	return 96, 334
}

func isTPU(name string) bool { return strings.HasPrefix(strings.ToLower(name), "tpu-") }

// gcpHostsWithGPU is the set of machine types in gcpAcceleratorHosts.
var gcpHostsWithGPU = func() map[string]bool {
	set := map[string]bool{}
	for _, byCount := range gcpAcceleratorHosts {
		for _, types := range byCount {
			for _, t := range types {
				set[t] = true
			}
		}
	}
	return set
}()

// isGCPAcceleratorHost reports whether a GCP machine type comes with GPUs.
func isGCPAcceleratorHost(instanceType string) bool { return gcpHostsWithGPU[instanceType] }

func gcpOfferings(rows []v7Row) []Offering {
	// Hosts by region and zone, in file order.
	type zoneKey struct{ region, zone string }
	hosts := map[zoneKey][]v7Row{}
	var cpus, gpus aggregator
	for _, r := range rows {
		if r.instanceType == "" {
			continue
		}
		zk := zoneKey{r.region, r.zone}
		hosts[zk] = append(hosts[zk], r)
		if isGCPAcceleratorHost(r.instanceType) || r.vcpus == 0 {
			continue
		}
		cpus.get(offeringKey{region: r.region, instanceType: r.instanceType}, Offering{
			Cloud: GCP, Region: r.region, InstanceType: r.instanceType, VCPUs: r.vcpus, MemoryGB: r.memory,
		}).add(r.zone, r.price, r.spot)
	}
	for _, r := range rows {
		if r.instanceType != "" || r.accName == "" {
			continue
		}
		if isTPU(r.accName) {
			v, m := tpuVMShape(r.accName)
			gpus.get(offeringKey{r.region, TPUInstanceType, r.accName, r.accCount}, Offering{
				Cloud: GCP, Region: r.region, InstanceType: TPUInstanceType, VCPUs: v, MemoryGB: m,
				GPU: r.accName, GPUCount: r.accCount, TPU: true,
			}).add(r.zone, r.price, r.spot)
			continue
		}
		for _, h := range gcpHosts(r, hosts[zoneKey{r.region, r.zone}]) {
			spot := 0.0
			if r.spot > 0 && h.spot > 0 {
				spot = r.spot + h.spot
			}
			gpus.get(offeringKey{r.region, h.instanceType, r.accName, r.accCount}, Offering{
				Cloud: GCP, Region: r.region, InstanceType: h.instanceType, VCPUs: h.vcpus, MemoryGB: h.memory,
				GPU: r.accName, GPUCount: r.accCount,
			}).add(r.zone, r.price+h.price, spot)
		}
	}
	return append(cpus.offerings(), gpus.offerings()...)
}

// gcpHosts are the host rows of the zone that an accelerator row attaches
// to: each machine type that comes with it, else SkyPilot's default N1.
func gcpHosts(acc v7Row, zone []v7Row) []v7Row {
	if byCount, ok := gcpAcceleratorHosts[acc.accName]; ok {
		var out []v7Row
		for _, t := range byCount[acc.accCount] {
			for _, h := range zone {
				if h.instanceType == t && h.vcpus > 0 {
					out = append(out, h)
					break
				}
			}
		}
		return out
	}
	byCount, ok := gcpHostVCPUs[acc.accName]
	if !ok {
		byCount = gcpHostVCPUs["DEFAULT"]
	}
	vcpus, ok := byCount[acc.accCount]
	if !ok {
		return nil
	}
	var best *v7Row
	for i, h := range zone {
		if !hasAnyPrefix(h.instanceType, gcpN1Families) || h.vcpus < vcpus || h.memory < vcpus*gcpHostMemPerVCPU {
			continue
		}
		if best == nil || h.price < best.price {
			best = &zone[i]
		}
	}
	if best == nil {
		return nil
	}
	return []v7Row{*best}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
