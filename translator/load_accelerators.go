package translator

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// gpuNames are the accelerator models accepted besides TPUs: SkyPilot's
// names (its catalogs' AcceleratorName, common/accelerators.csv), those of
// AWS and GCP among them. A name is matched in any case and stored as
// spelled here, the spelling the catalog compares with.
var gpuNames = []string{
	"A10", "A10G", "A100", "A100-80GB", "A40", "B100", "B200", "GB200",
	"GH200", "H100", "H100-MEGA", "H200", "K520", "K80", "L4", "L40", "L40S", "M60",
	"MI210", "MI250", "MI250X", "MI300", "MI300X", "MI325X", "Radeon MI25",
	"P100", "P4", "P40", "RTX3090", "RTX4090", "RTX6000", "RTXA4000", "RTXA5000", "RTXA6000",
	"T4", "T4g", "V100", "V100-32GB",
	"Inferentia", "Inferentia2", "Trainium", "Trainium2",
	"Gaudi HL-205", "Radeon Pro V520", "Virtex UltraScale (VU9P)",
}

// acceleratorAliases are other names of an accelerator, in any case.
// SkyPilot's catalogs call the 40 GB A100 "A100" (common/metadata.csv:
// A100, 40 GB) and the 80 GB one "A100-80GB"; task files also write
// A100-40GB.
var acceleratorAliases = map[string]string{
	"a100-40gb": "A100",
}

// tpuName matches Cloud TPU slices: tpu-<version>-<cores>.
var tpuName = regexp.MustCompile(`^tpu-v(?:2|3|4|5litepod|5p|6e)-[1-9][0-9]*$`)

// tpuExamples stand for the TPU family in "accepted:" lists and suggestions.
var tpuExamples = []string{"tpu-v2-8", "tpu-v3-8", "tpu-v4-8", "tpu-v5litepod-8", "tpu-v5p-8", "tpu-v6e-8"}

const acceleratorForms = "NAME or NAME:COUNT (e.g. A100, A100:8, A100:0.5), a mapping {A100: 8, H100: 8} or a list [H100:8, A100:8]"

// canonicalAccelerator returns the accepted spelling of name.
func canonicalAccelerator(name string) (string, bool) {
	if canon, ok := acceleratorAliases[strings.ToLower(name)]; ok {
		return canon, true
	}
	for _, g := range gpuNames {
		if strings.EqualFold(g, name) {
			return g, true
		}
	}
	if lower := strings.ToLower(name); tpuName.MatchString(lower) {
		return lower, true
	}
	return "", false
}

// decodeAccelerators reads `accelerators` (or `gpus`): "A100", "A100:8",
// a mapping {A100: 8, H100: 8} (any of them, cheapest wins) or a list
// ["H100:8", "A100:8"] (in order of preference).
func decodeAccelerators(d *taskDecoder, p kv, r *resDoc) error {
	n, path := p.val, p.path
	r.Accelerators, r.accelList = nil, false
	v := unalias(n)
	if isNullNode(v) {
		return nil
	}
	var accs []task.Accelerator
	seen := map[task.Accelerator]bool{}
	// In a set of choices an unknown name is one choice nothing offers,
	// as SkyPilot's optimizer sees it: the others are planned. Alone, it
	// is refused here, where it can be located.
	entries := len(v.Content)
	if v.Kind == yaml.MappingNode {
		entries /= 2
	}
	var unknown [][2]*yaml.Node
	var unknownSpecs []string
	add := func(nameNode, countNode *yaml.Node, spec string) error {
		if name, _, _ := strings.Cut(spec, ":"); entries > 1 {
			if _, ok := canonicalAccelerator(strings.TrimSpace(name)); !ok {
				unknown = append(unknown, [2]*yaml.Node{nameNode, countNode})
				unknownSpecs = append(unknownSpecs, spec)
				return nil
			}
		}
		a, err := d.accelerator(nameNode, countNode, path, spec)
		if err == nil && !seen[a] {
			seen[a] = true
			accs = append(accs, a)
		}
		return err
	}
	switch v.Kind {
	case yaml.MappingNode:
		ps, err := d.pairs(v, path)
		if err != nil {
			return err
		}
		for _, p := range ps {
			// {H100:1} without a space is a key "H100:1" with no value.
			spec, countNode := p.name, p.key
			if !isNullNode(p.val) {
				countNode = unalias(p.val)
				count, err := d.text(p.val, path, "an accelerator count")
				if err != nil {
					return err
				}
				spec = p.name + ":" + count
			}
			if err := add(p.key, countNode, spec); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		r.accelList = true
		for _, item := range v.Content {
			spec, err := d.str(item, path)
			if err != nil {
				return err
			}
			if err := add(unalias(item), unalias(item), spec); err != nil {
				return err
			}
		}
	default:
		spec, err := d.str(v, path)
		if err != nil {
			return err
		}
		if err := add(v, v, spec); err != nil {
			return err
		}
	}
	if len(accs) == 0 && len(unknown) > 0 {
		_, err := d.accelerator(unknown[0][0], unknown[0][1], path, unknownSpecs[0])
		return err
	}
	for i, n := range unknown {
		name, _, _ := strings.Cut(unknownSpecs[i], ":")
		d.warnOnce(n[0], path, "unknown accelerator %q: no offering has it; the other choices are planned", strings.TrimSpace(name))
	}
	if len(accs) == 0 {
		return d.errorAt(v, path, "no accelerator given").accepting(acceleratorForms)
	}
	r.Accelerators = accs
	return nil
}

// accelerator parses "NAME[:COUNT]". Problems with the name are reported
// at nameNode, with the count at countNode.
func (d *taskDecoder) accelerator(nameNode, countNode *yaml.Node, path, spec string) (task.Accelerator, error) {
	name, count, hasCount := strings.Cut(spec, ":")
	name = strings.TrimSpace(name)
	canon, ok := canonicalAccelerator(name)
	if !ok {
		choices := append(slices.Clone(gpuNames), tpuExamples...)
		return task.Accelerator{}, d.errorAt(nameNode, path, "unknown accelerator %q", name).choices(name, choices)
	}
	a := task.Accelerator{Name: canon, Count: 1}
	if hasCount {
		c, ok := parseDecimal(strings.TrimSpace(count))
		if !ok || c <= 0 {
			return task.Accelerator{}, d.errorAt(countNode, path,
				"%q is not an accelerator request: the count %q is not a positive number", spec, count).accepting(acceleratorForms)
		}
		a.Count = c
	}
	return a, nil
}

// decimalPattern is a plain decimal number: no sign, exponent, hex, inf or nan.
var decimalPattern = regexp.MustCompile(`^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$`)

// parseDecimal reads a plain decimal number.
func parseDecimal(s string) (float64, bool) {
	if !decimalPattern.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
