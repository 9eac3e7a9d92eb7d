package catalog

import (
	"fmt"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// WorkerMisfit says why a job's resource request cannot run on a pool
// worker of offering o, or returns "" when it can. A worker is a whole
// node that the job has to itself: the job fits when the node has at least
// what it asks (accelerators by name, with no more than the node's count;
// cpus and memory up to the node's), its instance type and location if it
// names them. A request that names nothing fits every worker.
func WorkerMisfit(r task.Resources, o Offering) string {
	var why []string
	if !inInfra(&o, r.Infra) {
		why = append(why, fmt.Sprintf("infra %s (the worker is in %s)", infraPath(r.Infra), infraPath(task.Infra{Cloud: o.Cloud, Region: o.Region})))
	}
	if r.InstanceType != "" && r.InstanceType != o.InstanceType {
		why = append(why, fmt.Sprintf("instance_type %s (the worker is %s)", r.InstanceType, o.InstanceType))
	}
	if len(r.Accelerators) > 0 {
		a := r.Accelerators[0]
		if !strings.EqualFold(a.Name, o.GPU) || a.Count > o.GPUCount+eps {
			have := "no accelerator"
			if o.GPU != "" {
				have = o.GPU + ":" + formatNumber(o.GPUCount)
			}
			why = append(why, fmt.Sprintf("accelerators %s (the worker has %s)", accelString(a), have))
		}
	}
	if r.CPUs != nil && r.CPUs.Value > o.VCPUs+eps {
		why = append(why, fmt.Sprintf("cpus %s (the worker has %s)", quantityString(*r.CPUs), formatNumber(o.VCPUs)))
	}
	if r.Memory != nil && r.Memory.Value > o.MemoryGB+eps {
		why = append(why, fmt.Sprintf("memory %s GB (the worker has %s GB)", quantityString(*r.Memory), formatNumber(o.MemoryGB)))
	}
	return strings.Join(why, ", ")
}

// Describe reads like "aws m6i.2xlarge in us-east-1: 8 vCPUs, 32 GB" ("this
// host: 2 vCPUs, 8 GB" for the local offering).
func (o Offering) Describe() string {
	s := fmt.Sprintf("%s %s", o.Cloud, o.InstanceType)
	if o.Cloud == LocalCloud {
		s = "this host"
	} else if o.Region != "" && o.Region != o.Cloud {
		s += " in " + o.Region
	}
	s += fmt.Sprintf(": %s vCPUs, %s GB", formatNumber(o.VCPUs), formatNumber(o.MemoryGB))
	if o.GPU != "" {
		s += ", " + o.GPU + ":" + formatNumber(o.GPUCount)
	}
	return s
}
