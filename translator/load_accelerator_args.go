package translator

import (
	"strings"

	"github.com/skynomad/skynomad/task"
)

// acceleratorArgsFields are the keys SkyPilot's schema allows in
// resources.accelerator_args.
var acceleratorArgsFields = fieldTable[task.AcceleratorArgs]{
	stringField("runtime_version", func(a *task.AcceleratorArgs, s string) { a.RuntimeVersion = s }),
	stringField("tpu_name", func(a *task.AcceleratorArgs, s string) { a.TPUName = s }),
	boolField("tpu_vm", func(a *task.AcceleratorArgs, b bool) { a.TPUVM = &b }),
	boolField("gcp_queued_resource", func(a *task.AcceleratorArgs, b bool) { a.GCPQueuedResource = &b }),
}

// decodeAcceleratorArgs reads `accelerator_args: {runtime_version,
// tpu_name, tpu_vm, gcp_queued_resource}`.
func decodeAcceleratorArgs(d *taskDecoder, p kv, r *resDoc) error {
	r.AcceleratorArgs = nil
	if isNullNode(p.val) {
		return nil
	}
	var args task.AcceleratorArgs
	if err := decodeMapping(d, p.val, p.path, acceleratorArgsFields, &args); err != nil {
		return err
	}
	r.AcceleratorArgs = &args
	return nil
}

// checkAcceleratorArgs refuses what SkyPilot refuses of a TPU VM: an
// instance type (a TPU VM is its own machine).
func (d *taskDecoder) checkAcceleratorArgs(rd resDoc, merged []kv) error {
	args := rd.AcceleratorArgs
	if args == nil || len(rd.Accelerators) == 0 || !strings.HasPrefix(strings.ToLower(rd.Accelerators[0].Name), "tpu") {
		return nil
	}
	vm := args.TPUVM == nil || *args.TPUVM
	if it := findPair(merged, "instance_type"); vm && it != nil && rd.InstanceType != "" && rd.InstanceType != "TPU-VM" {
		return d.errorAt(unalias(it.val), it.path, "cannot give an instance type (%s) for a TPU VM", rd.InstanceType).
			accepting("no instance_type (or TPU-VM), or accelerator_args.tpu_vm: false for a TPU node")
	}
	return nil
}
