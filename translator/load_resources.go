package translator

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// resDoc is one resource request being decoded.
type resDoc struct {
	task.Resources
	// accelList is set when accelerators were a YAML list: an order of
	// preference rather than a set to pick the cheapest from.
	accelList bool
}

// resourceFields are the keys of `resources:` and of each any_of/ordered
// entry. gpus is an alias of accelerators; any_of and ordered are read by
// resources() itself.
var resourceFields = fieldTable[resDoc]{
	valueField("infra", (*taskDecoder).infra, func(r *resDoc, i task.Infra) { r.Infra = i }),
	valueField("cloud", (*taskDecoder).cloud, func(r *resDoc, c string) { r.Infra.Cloud = c }),
	stringField("region", func(r *resDoc, s string) { r.Infra.Region = s }),
	stringField("zone", func(r *resDoc, s string) { r.Infra.Zone = s }),
	{"cpus", quantityField(cpuUnits, "a number of vCPUs, + for at least (e.g. 8, 8+, 0.5)",
		func(r *resDoc, q *task.Quantity) { r.CPUs = q })},
	{"memory", quantityField(sizeUnits, "a size in GB, + for at least, optional unit (e.g. 32, 32+, 64GB, 512MiB+)",
		func(r *resDoc, q *task.Quantity) { r.Memory = q })},
	{"accelerators", decodeAccelerators},
	{"gpus", decodeAccelerators},
	stringField("instance_type", func(r *resDoc, s string) { r.InstanceType = s }),
	boolField("use_spot", func(r *resDoc, b bool) { r.UseSpot = b }),
	{"disk_size", decodeDiskSize},
	withoutEffect(enumField("disk_tier", []string{"low", "medium", "high", "ultra", "best"}, func(r *resDoc, s string) { r.DiskTier = s }),
		"a node's disk is the one its offering's capacity policy starts it with; the task gets disk_size of it",
		func(r *resDoc) bool { return r.DiskTier != "" }),
	withoutEffect(enumField("network_tier", []string{"standard", "best"}, func(r *resDoc, s string) { r.NetworkTier = s }),
		"a node's network is the one its offering's capacity policy starts it with",
		func(r *resDoc) bool { return r.NetworkTier != "" }),
	withoutEffect(fieldSpec[resDoc]{"ports", decodePorts},
		"the task listens on its node's ports as any process there does, and skynomad opens none to the outside (open them in the cloud's firewall)",
		func(r *resDoc) bool { return len(r.Ports) > 0 }),
	withoutEffect(fieldSpec[resDoc]{"image_id", decodeImageID},
		"a task runs on its node's own machine image (the capacity policy's); only docker:<image> is used, to run the task in a container",
		func(r *resDoc) bool { return r.DockerImage() == "" }),
	{"labels", func(d *taskDecoder, p kv, r *resDoc) error {
		if isNullNode(p.val) {
			return nil
		}
		if r.Labels == nil {
			r.Labels = map[string]string{}
		}
		// Labels of an any_of/ordered entry add to the task's (SkyPilot merges them).
		return d.stringMap(p.val, p.path, r.Labels)
	}},
	valueField("max_hourly_cost", (*taskDecoder).number, func(r *resDoc, f float64) { r.MaxHourlyCost = f }),
	intField("priority", -1000, 1000, func(r *resDoc, v int) { r.Priority = v }),
	{"autostop", decodeAutostop},
	{"job_recovery", decodeJobRecovery},
	{"any_of", nil},
	{"ordered", nil},
	{"accelerator_args", decodeAcceleratorArgs},
	unsupportedField[resDoc]("volumes"),
}

// resourcesOut is a task's decoded `resources:` block.
type resourcesOut struct {
	base       task.Resources
	candidates []task.Resources
	ordered    bool
}

// resources decodes the `resources:` block n into the task's base request
// and its candidates: the block merged with each any_of/ordered entry and
// with the command-line overrides cli, expanded over accelerator sets.
func (d *taskDecoder) resources(n *yaml.Node, cli []kv, pool bool) (resourcesOut, error) {
	var base []kv
	if !isNullNode(n) {
		var err error
		if base, err = d.resourceLayer(n, "resources"); err != nil {
			return resourcesOut{}, err
		}
	}
	base, group, err := d.splitGroup(base)
	if err != nil {
		return resourcesOut{}, err
	}
	if pool && group != nil && group.name == "ordered" {
		return resourcesOut{}, d.errorAt(group.key, group.path, "not allowed in a pool file: every worker is the same machine, there is no order of preference").
			accepting("any_of (the cheapest candidate is chosen for the pool's workers), or one resources block")
	}
	entries, err := d.groupEntries(group)
	if err != nil {
		return resourcesOut{}, err
	}
	baseDoc, _, err := d.decodeResources(base, nil, cli)
	if err != nil {
		return resourcesOut{}, err
	}
	out := resourcesOut{base: baseDoc.Resources}
	accelList := false
	var recovery []task.JobRecovery
	var recoveryAt []*kv
	for _, entry := range entries {
		rd, merged, err := d.decodeResources(base, entry, cli)
		if err != nil {
			return resourcesOut{}, err
		}
		if pool {
			if err := d.checkPool(merged); err != nil {
				return resourcesOut{}, err
			}
		}
		if err := d.checkAccelerators(rd, group, merged); err != nil {
			return resourcesOut{}, err
		}
		if err := d.checkAcceleratorArgs(rd, merged); err != nil {
			return resourcesOut{}, err
		}
		accelList = accelList || rd.accelList && len(rd.Accelerators) > 1
		recovery = append(recovery, rd.JobRecovery)
		recoveryAt = append(recoveryAt, findPair(entry, "job_recovery"))
		out.candidates = append(out.candidates, expandAccelerators(rd.Resources)...)
	}
	if err := d.checkSameRecovery(group, recovery, recoveryAt); err != nil {
		return resourcesOut{}, err
	}
	out.candidates = dedupeResources(out.candidates)
	out.ordered = len(out.candidates) > 1 && (group != nil && group.name == "ordered" || group == nil && accelList)
	return out, nil
}

// resourceLayer reads one resources mapping (the block or an entry),
// checks its keys and folds the gpus alias into accelerators.
func (d *taskDecoder) resourceLayer(n *yaml.Node, path string) ([]kv, error) {
	ps, err := d.pairs(n, path)
	if err != nil {
		return nil, err
	}
	if err := d.foldRenamedResourceKeys(ps); err != nil {
		return nil, err
	}
	var accel *kv
	for i := range ps {
		if _, err := resourceFields.lookup(d, ps[i]); err != nil {
			return nil, err
		}
		if ps[i].name != "gpus" && ps[i].name != "accelerators" {
			continue
		}
		if accel != nil {
			return nil, d.errorAt(ps[i].key, ps[i].path, "gpus is another name for accelerators; give only one of them")
		}
		ps[i].name = "accelerators"
		accel = &ps[i]
	}
	return ps, nil
}

// splitGroup takes any_of or ordered out of the block's pairs.
func (d *taskDecoder) splitGroup(ps []kv) ([]kv, *kv, error) {
	var rest []kv
	var group *kv
	for i, p := range ps {
		if p.name != "any_of" && p.name != "ordered" {
			rest = append(rest, p)
			continue
		}
		if group != nil {
			return nil, nil, d.errorAt(p.key, p.path, "any_of and ordered cannot be used together; choose one")
		}
		group = &ps[i]
	}
	return rest, group, nil
}

// groupEntries reads the entries of any_of/ordered; with no group there is
// one empty entry.
func (d *taskDecoder) groupEntries(group *kv) ([][]kv, error) {
	if group == nil {
		return [][]kv{nil}, nil
	}
	items, err := d.items(group.val, group.path)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.errorAt(unalias(group.val), group.path, "needs at least one candidate")
	}
	entries := make([][]kv, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", group.path, i)
		ps, err := d.resourceLayer(item, path)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.name == "any_of" || p.name == "ordered" {
				return nil, d.errorAt(p.key, p.path, "cannot be nested inside %s", group.name)
			}
		}
		entries = append(entries, ps)
	}
	return entries, nil
}

// decodeResources merges the block, one entry and the command-line
// overrides (each later one wins) and decodes the result.
func (d *taskDecoder) decodeResources(base, entry, cli []kv) (resDoc, []kv, error) {
	merged := mergeLayers(base, entry)
	if err := d.checkLocation(merged); err != nil {
		return resDoc{}, nil, err
	}
	if findPair(cli, "infra") != nil {
		// --infra replaces the whole location, whichever way it was written.
		merged = slices.DeleteFunc(merged, func(p kv) bool {
			return p.name == "cloud" || p.name == "region" || p.name == "zone"
		})
	}
	merged = mergeLayers(merged, cli)
	var rd resDoc
	if err := resourceFields.decodePairs(d, merged, &rd); err != nil {
		return resDoc{}, nil, err
	}
	if rd.JobRecovery.Strategy == "" {
		rd.JobRecovery.Strategy = task.StrategyEagerNextRegion
	}
	return rd, merged, nil
}

// mergeLayers overlays layers of pairs: a key replaces the same key of an
// earlier layer, except labels, which accumulate.
func mergeLayers(layers ...[]kv) []kv {
	var out []kv
	for _, layer := range layers {
		for _, p := range layer {
			i := slices.IndexFunc(out, func(q kv) bool { return q.name == p.name })
			if i < 0 || p.name == "labels" {
				out = append(out, p)
				continue
			}
			out[i] = p
		}
	}
	return out
}

// findPair returns the pair named name, or nil.
func findPair(ps []kv, name string) *kv {
	for i := range ps {
		if ps[i].name == name {
			return &ps[i]
		}
	}
	return nil
}

// checkLocation refuses infra together with the older cloud/region/zone.
func (d *taskDecoder) checkLocation(ps []kv) error {
	infra := findPair(ps, "infra")
	if infra == nil {
		return nil
	}
	for _, p := range ps {
		if p.name == "cloud" || p.name == "region" || p.name == "zone" {
			return d.errorAt(p.key, p.path, "cannot be used with infra (%s at line %d); write the location in infra", infra.path, infra.key.Line).
				accepting("infra: cloud[/region[/zone]]")
		}
	}
	return nil
}

// checkPool refuses what a pool's workers cannot honour.
func (d *taskDecoder) checkPool(ps []kv) error {
	for _, p := range ps {
		switch p.name {
		case "ports":
			return d.errorAt(p.key, p.path, "not allowed in a pool file: workers serve no ports").
				accepting("resources without ports; a job that serves ports is launched without --pool")
		case "job_recovery":
			return d.errorAt(p.key, p.path, "not allowed in a pool file: the pool replaces lost workers and retries a failed setup itself").
				accepting("resources without job_recovery; a job submitted to the pool may set its own")
		}
	}
	return nil
}

// checkAccelerators refuses accelerator sets that SkyPilot refuses with
// any_of/ordered.
func (d *taskDecoder) checkAccelerators(rd resDoc, group *kv, merged []kv) error {
	if group == nil || len(rd.Accelerators) < 2 {
		return nil
	}
	at := findPair(merged, "accelerators")
	switch {
	case group.name == "ordered":
		return d.errorAt(unalias(at.val), at.path, "several accelerators cannot be combined with ordered; give one accelerator per ordered entry")
	case rd.accelList:
		return d.errorAt(unalias(at.val), at.path, "a list of accelerators (an order of preference) cannot be combined with any_of; use a mapping {A: n, B: m} or ordered")
	}
	return nil
}

// checkSameRecovery requires one job_recovery for all candidates.
func (d *taskDecoder) checkSameRecovery(group *kv, rs []task.JobRecovery, at []*kv) error {
	for i := 1; i < len(rs); i++ {
		if reflect.DeepEqual(rs[i], rs[0]) {
			continue
		}
		n, path := group.key, group.path
		if at[i] != nil {
			n, path = at[i].key, at[i].path
		} else if at[0] != nil {
			n, path = at[0].key, at[0].path
		}
		return d.errorAt(n, path, "every %s candidate must have the same job_recovery (candidate %d differs from candidate 0)", group.name, i)
	}
	return nil
}

// expandAccelerators splits a request with several accelerators into one per accelerator.
func expandAccelerators(r task.Resources) []task.Resources {
	if len(r.Accelerators) < 2 {
		return []task.Resources{r}
	}
	out := make([]task.Resources, 0, len(r.Accelerators))
	for _, a := range r.Accelerators {
		c := r
		c.Accelerators = []task.Accelerator{a}
		c.Ports = slices.Clone(r.Ports)
		c.ImageIDs = maps.Clone(r.ImageIDs)
		c.Labels = maps.Clone(r.Labels)
		c.JobRecovery.RecoverOnExitCodes = slices.Clone(r.JobRecovery.RecoverOnExitCodes)
		out = append(out, c)
	}
	return out
}

// dedupeResources drops repeated candidates, keeping the first.
func dedupeResources(rs []task.Resources) []task.Resources {
	seen := make(map[string]bool, len(rs))
	out := rs[:0]
	for _, r := range rs {
		// The JSON form is a complete, deterministic key (map keys are sorted).
		key, _ := json.Marshal(r)
		if !seen[string(key)] {
			seen[string(key)] = true
			out = append(out, r)
		}
	}
	return out
}
