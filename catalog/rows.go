package catalog

import (
	"fmt"
	"math"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// Row is one line of the "Considered resources" table shown before a launch:
// INFRA, INSTANCE, vCPUs, Mem(GB), GPUS, COST ($), CHOSEN.
type Row struct {
	Infra    string // "AWS (us-east-1)", "GCP (us-central1)", "Local"
	Instance string // "p4d.24xlarge", "p4d.24xlarge[Spot]" for spot
	VCPUs    string // "8", "0.5"
	MemGB    string // "32", "23.4"
	GPUs     string // "H100:1" or "-"
	Cost     string // hourly cost of all the task's nodes, two decimals
	Chosen   bool
}

// Rows turns ranked choices (as returned by Plan for t) into table rows:
// one row per cloud, region, instance type (with its accelerator) and
// capacity, the best-ranked one,
// in rank order, so the chosen row comes first. max > 0 caps the number of
// rows.
func Rows(choices []Choice, t task.Task, max int) []Row {
	type key struct {
		cloud, region, instance, gpu string
		count                        float64
		spot                         bool
	}
	seen := map[key]bool{}
	var rows []Row
	for i, c := range choices {
		o := c.Offering
		k := key{o.Cloud, o.Region, o.InstanceType, o.GPU, o.GPUCount, c.Spot}
		if seen[k] {
			continue
		}
		seen[k] = true
		instance := o.InstanceType
		if c.Spot {
			instance += "[Spot]"
		}
		rows = append(rows, Row{
			Infra:    infraLabel(o),
			Instance: instance,
			VCPUs:    tableNumber(o.VCPUs),
			MemGB:    tableNumber(o.MemoryGB),
			GPUs:     gpuLabel(c, t),
			Cost:     fmt.Sprintf("%.2f", c.HourlyCost),
			Chosen:   i == 0,
		})
		if max > 0 && len(rows) == max {
			break
		}
	}
	return rows
}

// Requested renders a task's resource request the way SkyPilot's managed job
// table shows it in its REQUESTED column: nodes, then the accelerators (or
// the CPU and memory request) of its candidates, then the capacity:
// "1x [V100:8][Spot]", "1x [V100:8][Spot|On-demand]",
// "2x [cpus=8+, mem=32+][Spot]", "1x [H100:1, H200:1]", "1x [CPU:1+]".
func Requested(t task.Task) string {
	cands := t.Candidates
	if len(cands) == 0 {
		cands = []task.Resources{t.Resources}
	}
	nodes := t.NumNodes
	if nodes < 1 {
		nodes = 1
	}
	var parts []string
	spot, onDemand := false, false
	for _, r := range cands {
		var body string
		switch {
		case len(r.Accelerators) > 0:
			for _, a := range r.Accelerators {
				parts = appendUnique(parts, accelString(a))
			}
		case cpuMemString(r) != "":
			body = cpuMemString(r)
		case r.InstanceType != "":
			body = r.InstanceType
		default:
			body = "CPU:1+"
		}
		if body != "" {
			parts = appendUnique(parts, body)
		}
		if r.UseSpot {
			spot = true
		} else {
			onDemand = true
		}
	}
	s := fmt.Sprintf("%dx [%s]", nodes, strings.Join(parts, ", "))
	switch {
	case spot && onDemand:
		s += "[Spot|On-demand]"
	case spot:
		s += "[Spot]"
	}
	return s
}

// cpuMemString is "cpus=8+, mem=32+" for the parts that are set, or "".
func cpuMemString(r task.Resources) string {
	var parts []string
	if r.CPUs != nil {
		parts = append(parts, "cpus="+quantityString(*r.CPUs))
	}
	if r.Memory != nil {
		parts = append(parts, "mem="+quantityString(*r.Memory))
	}
	return strings.Join(parts, ", ")
}

func infraLabel(o Offering) string {
	switch o.Cloud {
	case LocalCloud:
		return "Local"
	case "aws", "gcp":
		return strings.ToUpper(o.Cloud) + " (" + o.Region + ")"
	}
	name := o.Cloud
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name + " (" + o.Region + ")"
}

// gpuLabel is the requested accelerator of the choice's candidate, else the
// offering's own GPUs, else "-".
func gpuLabel(c Choice, t task.Task) string {
	if c.Candidate >= 0 && c.Candidate < len(t.Candidates) {
		if accs := t.Candidates[c.Candidate].Accelerators; len(accs) > 0 {
			return accelString(accs[0])
		}
	}
	if c.Offering.GPU != "" {
		return c.Offering.GPU + ":" + formatNumber(c.Offering.GPUCount)
	}
	return "-"
}

// tableNumber shows whole numbers as integers and others with at most two
// decimals.
func tableNumber(v float64) string { return Decimal(v, 2) }

// Decimal shows v rounded to at most places decimals, whole numbers as
// integers (23.5, 8, 0.125).
func Decimal(v float64, places int) string {
	scale := math.Pow(10, float64(places))
	return formatNumber(math.Round(v*scale) / scale)
}
