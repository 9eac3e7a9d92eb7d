package catalog

import (
	"math"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// Offering is one instance type in one region of one cloud, with its prices.
// On GCP an offering is a machine type with an accelerator when the
// accelerator is attached to it (N1 GPU hosts, TPU VMs). Cloud "local" is
// this host (see Local).
type Offering struct {
	Cloud        string   `json:"cloud"`
	Region       string   `json:"region"`
	Zones        []string `json:"zones,omitempty"`
	InstanceType string   `json:"instance_type"`
	VCPUs        float64  `json:"vcpus"`
	MemoryGB     float64  `json:"memory_gb"`
	// GPU is the accelerator model ("A100-80GB"), empty for CPU offerings.
	GPU      string  `json:"gpu,omitempty"`
	GPUCount float64 `json:"gpu_count,omitempty"`
	// Hourly prices in USD per instance; SpotPrice 0 means no spot offering.
	// SpotPrice is the lowest of ZoneSpotPrices.
	OnDemandPrice float64 `json:"on_demand_price"`
	SpotPrice     float64 `json:"spot_price,omitempty"`
	// ZoneSpotPrices is each zone's spot price; a zone of Zones missing
	// here has no spot capacity. Shared with the catalog: read only.
	ZoneSpotPrices map[string]float64 `json:"zone_spot_prices,omitempty"`
	// TPU marks a Cloud TPU VM: InstanceType is TPU-VM and GPU names the
	// slice (tpu-v6e-8). TPU VMs are started through GCP's TPU API.
	TPU bool `json:"tpu,omitempty"`
}

// AttachedAccelerator reports whether the offering's accelerator is not
// part of its machine type: a GPU attached to a GCP N1 host, or a TPU VM.
// Launching it takes more than the machine type.
func (o Offering) AttachedAccelerator() bool {
	return o.Cloud == GCP && o.GPU != "" && (o.TPU || !isGCPAcceleratorHost(o.InstanceType))
}

// Choice is one feasible placement for a task: an offering, spot or not,
// for one of the task's candidate resource requests.
type Choice struct {
	Offering Offering `json:"offering"`
	Spot     bool     `json:"spot"`
	// Candidate indexes task.Task.Candidates.
	Candidate int `json:"candidate"`
	// HourlyCost is the price of all the task's nodes for one hour.
	HourlyCost float64 `json:"hourly_cost"`
	// Nodes is the task's num_nodes.
	Nodes int `json:"nodes,omitempty"`
	// Members is set for a job group: one choice per task, all in one
	// location (CoLocate). The fields above repeat the first task's,
	// except HourlyCost, which is the whole group's.
	Members []Choice `json:"members,omitempty"`
}

// Capacity is "spot" or "on-demand", as used in node meta sky.capacity.
func (c Choice) Capacity() string {
	if c.Spot {
		return "spot"
	}
	return "on-demand"
}

// NodeClass is the Nomad node class of this offering:
// sky-<cloud>-<region>-<instance>-<capacity>, with the accelerator after
// the instance when it is attached (sky-gcp-us-central1-n1-highmem-8-V100x1-spot).
func (c Choice) NodeClass() string {
	o := c.Offering
	instance := o.InstanceType
	if o.AttachedAccelerator() {
		instance += "-" + strings.ReplaceAll(o.GPU, " ", "_") + "x" + formatNumber(o.GPUCount)
	}
	return "sky-" + o.Cloud + "-" + o.Region + "-" + instance + "-" + c.Capacity()
}

// Constraints narrow a plan beyond what the task asks: the engine's enabled
// clouds, and locations blocked by recovery (EAGER_NEXT_REGION / FAILOVER).
type Constraints struct {
	// Clouds lists the enabled clouds; empty means every cloud in the catalog.
	Clouds []string `json:"clouds,omitempty"`
	// Blocked locations (cloud and region) are skipped.
	Blocked []task.Infra `json:"blocked,omitempty"`
	// Prefer, when set, ranks choices in this location first (FAILOVER).
	Prefer *task.Infra `json:"prefer,omitempty"`
}

// formatNumber writes v without trailing zeros ("8", "0.384", "5.38327").
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// OnDemandHourlyCost is what the choice's nodes would cost for one hour
// on-demand: HourlyCost itself for on-demand capacity, and for spot the
// same nodes at the offering's on-demand price (a job group sums its
// members).
func (c Choice) OnDemandHourlyCost() float64 {
	if len(c.Members) > 0 {
		var sum float64
		for _, m := range c.Members {
			sum += m.OnDemandHourlyCost()
		}
		return sum
	}
	if !c.Spot {
		return c.HourlyCost
	}
	nodes := float64(c.Nodes)
	if nodes == 0 && c.Offering.SpotPrice > 0 { // a choice stored before Nodes
		nodes = math.Max(1, math.Round(c.HourlyCost/c.Offering.SpotPrice))
	}
	return nodes * c.Offering.OnDemandPrice
}
