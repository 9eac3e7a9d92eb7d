package render

import (
	"encoding/json"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// capacityMeta is what the capacity plugin (autoscaler-plugin/target)
// reads of a job waiting for nodes: the labels of the instances it starts
// for it (config.<cloud>.labels of the chosen cloud, then
// resources.labels) and the request's accelerator_args, each as JSON.
func (r renderer) capacityMeta() map[string]string {
	out := map[string]string{}
	res := r.a.Task.Resources
	if labels := res.LabelsOn(r.a.Choice.Offering.Cloud); len(labels) > 0 {
		b, _ := json.Marshal(labels) // strings only: cannot fail; keys sorted
		out[naming.MetaLabels] = string(b)
	}
	if args := res.AcceleratorArgs; args != nil {
		b, _ := json.Marshal(args)
		out[naming.MetaAcceleratorArgs] = string(b)
	}
	return out
}
