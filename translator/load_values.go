package translator

// The value types of resource fields: amounts (cpus, memory, disk_size),
// ports, image_id, autostop and job_recovery.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// Units of cpus (none) and of memory and disk sizes (relative to GB, which
// SkyPilot counts in powers of two).
var (
	cpuUnits  = map[string]float64{"": 1}
	sizeUnits = map[string]float64{
		"": 1, "g": 1, "gb": 1, "gib": 1,
		"b": 1.0 / (1 << 30),
		"k": 1.0 / (1 << 20), "kb": 1.0 / (1 << 20), "kib": 1.0 / (1 << 20),
		"m": 1.0 / (1 << 10), "mb": 1.0 / (1 << 10), "mib": 1.0 / (1 << 10),
		"t": 1 << 10, "tb": 1 << 10, "tib": 1 << 10,
		"p": 1 << 20, "pb": 1 << 20, "pib": 1 << 20,
	}
)

// parseAmount reads "<number>[unit][+]" into a value in the units' base.
func parseAmount(s string, units map[string]float64, allowPlus bool) (float64, bool, bool) {
	s = strings.TrimSpace(s)
	plus := allowPlus && strings.HasSuffix(s, "+")
	s = strings.TrimSpace(strings.TrimSuffix(s, "+"))
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(s[:i]), strings.ToLower(s[i:])
	}
	factor, ok := units[unit]
	v, isNum := parseDecimal(num)
	if !ok || !isNum || v <= 0 {
		return 0, false, false
	}
	return v * factor, plus, true
}

// quantityField reads cpus or memory: a number or "N+", with units.
func quantityField(units map[string]float64, accepted string, set func(*resDoc, *task.Quantity)) decodeFunc[resDoc] {
	return func(d *taskDecoder, p kv, r *resDoc) error {
		n, path := p.val, p.path
		if isNullNode(n) {
			set(r, nil)
			return nil
		}
		s, err := d.text(n, path, "a number")
		if err != nil {
			return err
		}
		v, plus, ok := parseAmount(s, units, true)
		if !ok {
			return d.errorAt(unalias(n), path, "%q is not a valid amount", s).accepting(accepted)
		}
		set(r, &task.Quantity{Value: v, AtLeast: plus})
		return nil
	}
}

// decodeDiskSize reads a whole number of GB: 256, "256GB", "1TB".
func decodeDiskSize(d *taskDecoder, p kv, r *resDoc) error {
	n, path := p.val, p.path
	s, err := d.text(n, path, "a disk size")
	if err != nil {
		return err
	}
	v, _, ok := parseAmount(s, sizeUnits, false)
	if !ok || v != math.Trunc(v) || v > math.MaxInt32 {
		return d.errorAt(unalias(n), path, "%q is not a whole number of GB", s).accepting("a size in GB, optional unit (e.g. 256, 256GB, 1TB)")
	}
	r.DiskSizeGB = int(v)
	return nil
}

// decodePorts reads a port, "8080", "10000-10010" or a list of them, and
// keeps them sorted with overlapping ranges merged.
func decodePorts(d *taskDecoder, p kv, r *resDoc) error {
	r.Ports = nil
	for _, item := range oneOrMany(p) {
		s, err := d.text(item.val, item.path, "a port or a port range")
		if err != nil {
			return err
		}
		pr, ok := parsePortRange(s)
		if !ok {
			return d.errorAt(unalias(item.val), item.path, "%q is not a port or a port range", s).
				accepting("a port 1-65535 or a range FROM-TO (e.g. 8080, 10000-10010), or a list of them")
		}
		r.Ports = append(r.Ports, pr)
	}
	r.Ports = mergePorts(r.Ports)
	return nil
}

func parsePortRange(s string) (task.PortRange, bool) {
	from, to, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		to = from
	}
	f, errF := parsePort(from)
	t, errT := parsePort(to)
	return task.PortRange{From: f, To: t}, errF && errT && f <= t
}

func parsePort(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	p := 0
	for _, c := range s {
		p = p*10 + int(c-'0')
	}
	return p, p >= 1 && p <= 65535
}

// mergePorts sorts ranges and joins overlapping or adjacent ones.
func mergePorts(ps []task.PortRange) []task.PortRange {
	slices.SortFunc(ps, func(a, b task.PortRange) int { return a.From - b.From })
	var out []task.PortRange
	for _, p := range ps {
		if last := len(out) - 1; last >= 0 && p.From <= out[last].To+1 {
			out[last].To = max(out[last].To, p.To)
			continue
		}
		out = append(out, p)
	}
	return out
}

// decodeImageID reads one image ("docker:<image>" runs in a container) or
// a mapping of region to image.
func decodeImageID(d *taskDecoder, p kv, r *resDoc) error {
	n, path := p.val, p.path
	r.ImageID, r.ImageIDs = "", nil
	if m := unalias(n); m != nil && m.Kind == yaml.MappingNode {
		ids := map[string]string{}
		if err := d.stringMap(m, path, ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return d.errorAt(m, path, "the mapping of region to image is empty")
		}
		// SkyPilot runs the task in the image under the key docker, on
		// the regions' machine images.
		if img, ok := ids["docker"]; ok {
			r.ImageID = "docker:" + strings.TrimPrefix(img, "docker:")
			delete(ids, "docker")
		}
		if len(ids) > 0 {
			r.ImageIDs = ids
		}
		return nil
	}
	s, err := d.str(n, path)
	if err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "docker:" {
		return d.errorAt(unalias(n), path, "no image given").accepting("an image id, docker:<image>, or a mapping of region to image")
	}
	r.ImageID = s
	return nil
}

// decodeAutostop reads autostop as SkyPilot does: a boolean, idle minutes,
// a duration ("10m", "1h") or {idle_minutes, down, wait_for, hook,
// hook_timeout}. It is kept, as text, but has no effect on a managed job,
// whose nodes end with the job: a warning says so.
func decodeAutostop(d *taskDecoder, p kv, r *resDoc) error {
	n, path := p.val, p.path
	r.Autostop, r.AutostopDown = "", false
	if isNullNode(n) {
		return nil
	}
	if m := unalias(n); m.Kind == yaml.MappingNode {
		var as autostopDoc
		if err := decodeMapping(d, m, path, autostopFields, &as); err != nil {
			return err
		}
		r.Autostop, r.AutostopDown = "true", as.down
		if as.idleMinutes != nil {
			r.Autostop = fmt.Sprint(*as.idleMinutes)
		}
	} else {
		s, sc, err := d.scalarAt(n, path, "a boolean, minutes or a duration")
		if err != nil {
			return err
		}
		switch {
		case sc.kind == boolKind:
			r.Autostop = fmt.Sprint(sc.b)
		case sc.kind == intKind || autostopTime.MatchString(sc.raw):
			r.Autostop = sc.raw
		default:
			return d.errorAt(s, path, "%s is not an autostop setting", describeNode(s)).
				accepting("true, false, idle minutes (10), a duration (10m, 2h, 1d, 1w), or {idle_minutes: 10, down: true}")
		}
	}
	d.warnOnce(p.key, path, "has no effect on a managed job, whose nodes end with the job; ignored")
	return nil
}

// autostopTime is SkyPilot's TIME_PATTERN: a number and an optional unit.
var autostopTime = regexp.MustCompile(`^[0-9]+[mhdwMHDW]?$`)

// autostopDoc is autostop's mapping form.
type autostopDoc struct {
	idleMinutes *int
	down        bool
}

var autostopFields = fieldTable[autostopDoc]{
	intField("idle_minutes", 0, math.MaxInt32, func(a *autostopDoc, v int) { a.idleMinutes = &v }),
	boolField("down", func(a *autostopDoc, b bool) { a.down = b }),
	enumField("wait_for", []string{"jobs_and_ssh", "jobs", "none"}, func(*autostopDoc, string) {}),
	stringField("hook", func(*autostopDoc, string) {}),
	intField("hook_timeout", 1, math.MaxInt32, func(*autostopDoc, int) {}),
}

// Job recovery.

var recoveryStrategies = []string{task.StrategyEagerNextRegion, task.StrategyFailover}

var jobRecoveryFields = fieldTable[task.JobRecovery]{
	valueField("strategy", (*taskDecoder).strategy, func(jr *task.JobRecovery, s string) { jr.Strategy = s }),
	intField("max_restarts_on_errors", 0, math.MaxInt32, func(jr *task.JobRecovery, v int) { jr.MaxRestartsOnErrors = v }),
	{"recover_on_exit_codes", decodeExitCodes},
}

// decodeJobRecovery reads a strategy name or {strategy,
// max_restarts_on_errors, recover_on_exit_codes}.
func decodeJobRecovery(d *taskDecoder, p kv, r *resDoc) (err error) {
	n, path := p.val, p.path
	r.JobRecovery = task.JobRecovery{}
	if m := unalias(n); m != nil && m.Kind == yaml.MappingNode {
		return decodeMapping(d, m, path, jobRecoveryFields, &r.JobRecovery)
	}
	r.JobRecovery.Strategy, err = d.strategy(n, path)
	return err
}

// strategy reads a recovery strategy in any case; "none" and null mean the
// default (filled in later).
func (d *taskDecoder) strategy(n *yaml.Node, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil || s == "" || strings.EqualFold(s, "none") {
		return "", err
	}
	for _, v := range recoveryStrategies {
		if strings.EqualFold(v, s) {
			return v, nil
		}
	}
	return "", d.errorAt(unalias(n), path, "unknown recovery strategy %q", s).choices(s, recoveryStrategies)
}

// decodeExitCodes reads an exit code 0-255 or a list of them.
func decodeExitCodes(d *taskDecoder, p kv, jr *task.JobRecovery) error {
	jr.RecoverOnExitCodes = nil
	for _, item := range oneOrMany(p) {
		v, err := d.integer(item.val, item.path, 0, 255)
		if err != nil {
			return err
		}
		if !slices.Contains(jr.RecoverOnExitCodes, v) {
			jr.RecoverOnExitCodes = append(jr.RecoverOnExitCodes, v)
		}
	}
	return nil
}
