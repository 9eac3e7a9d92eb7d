package catalog

import "github.com/skynomad/skynomad/task"

// Offering is one instance type in one region of one cloud, with its prices.
// Cloud "local" is this host (see Local).
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
	OnDemandPrice float64 `json:"on_demand_price"`
	SpotPrice     float64 `json:"spot_price,omitempty"`
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
}

// Capacity is "spot" or "on-demand", as used in node meta sky.capacity.
func (c Choice) Capacity() string {
	if c.Spot {
		return "spot"
	}
	return "on-demand"
}

// NodeClass is the Nomad node class of this offering:
// sky-<cloud>-<region>-<instance>-<capacity>.
func (c Choice) NodeClass() string {
	return "sky-" + c.Offering.Cloud + "-" + c.Offering.Region + "-" + c.Offering.InstanceType + "-" + c.Capacity()
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
