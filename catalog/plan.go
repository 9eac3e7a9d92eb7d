package catalog

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// SkyPilot's defaults for a request that names neither an accelerator nor an
// instance type (sky/catalog/{aws,gcp}_catalog.py get_default_instance_type):
// cpus "8+" when neither cpus nor memory is set, and memory of at least
// 4 GB per vCPU when memory is not set. They apply to cloud offerings only;
// the local host is taken as it is.
const (
	defaultVCPUs      = 8
	defaultMemPerVCPU = 4
)

const eps = 1e-9

// accTolerance is how far an offering's accelerator count may be from the
// requested one: SkyPilot matches counts within 0.01, so that 0.12 asks for
// the 0.125 of a GPU an AWS g6f.large has.
const accTolerance = 0.01

// NoFitError says why no offering fits a task, in terms a user can act on.
// A managed job that gets it ends FAILED_PRECHECKS.
type NoFitError struct {
	Reason string
}

func (e *NoFitError) Error() string { return "no offering fits: " + e.Reason }

// NoFit returns a *NoFitError with the given reason.
func NoFit(reason string) error { return &NoFitError{Reason: reason} }

// IsNoFit reports whether err is or wraps a *NoFitError.
func IsNoFit(err error) bool {
	var nf *NoFitError
	return errors.As(err, &nf)
}

// Plan ranks every feasible placement of t: for each of t.Candidates, every
// offering that fits it and cons. The first choice is the one to launch.
//
// A candidate fits an offering when the offering's cloud is enabled
// (cons.Clouds, empty means all), lies in the candidate's infra (cloud,
// region and zone; empty or "*" parts match anything, "local" matches only
// the local offering, k8s and ssh infra never fit), is not in a blocked
// location, has the requested instance type, the requested accelerator with
// the requested count (or no accelerator when none is requested, beyond
// the one an instance type comes with), the requested vCPUs and memory ("8"
// exactly, "8+" at least), spot capacity when use_spot is set (in the
// requested zone, when one is), a per-node price within max_hourly_cost,
// and the catalog does not refuse it (Refusing). Accelerator counts match
// within 0.01, as in SkyPilot: a fractional count (L4:0.5) fits only an
// instance type that has that fraction of a GPU.
// Without an accelerator or instance type, SkyPilot's default instance rules
// apply to cloud offerings: its default CPU families, cpus 8+ when neither
// cpus nor memory is set, and at least 4 GB of memory per vCPU when memory is
// not set.
//
// A choice costs the offering's spot price (in a requested zone, that
// zone's) or on-demand price, times the task's nodes. Choices in
// cons.Prefer come first; then, when t.Ordered, candidates in the user's
// order, each cheapest first; otherwise cheapest first. Ties go by cloud,
// region and instance type. When nothing fits, Plan returns a *NoFitError.
func (c *Catalog) Plan(t task.Task, cons Constraints) ([]Choice, error) {
	cands := t.Candidates
	if len(cands) == 0 {
		cands = []task.Resources{t.Resources}
	}
	nodes := t.NumNodes
	if nodes < 1 {
		nodes = 1
	}

	var choices []Choice
	var failures []candidateFailure
	for i, r := range cands {
		q := newRequest(r)
		fits, reason := c.fit(q, cons)
		if len(fits) == 0 {
			failures = append(failures, candidateFailure{label: q.label(), reason: reason})
			continue
		}
		choices = slices.Grow(choices, len(fits))
		for _, o := range fits {
			choices = append(choices, Choice{
				Offering:   *o,
				Spot:       r.UseSpot,
				Candidate:  i,
				HourlyCost: q.price(o) * float64(nodes),
				Nodes:      nodes,
			})
		}
	}
	if len(choices) == 0 {
		return nil, &NoFitError{Reason: combineReasons(failures)}
	}
	rank(choices, t.Ordered, cons.Prefer)
	return choices, nil
}

type candidateFailure struct {
	label  string
	reason string
}

func combineReasons(fs []candidateFailure) string {
	seen := map[string]bool{}
	var distinct []candidateFailure
	for _, f := range fs {
		if !seen[f.reason] {
			seen[f.reason] = true
			distinct = append(distinct, f)
		}
	}
	if len(distinct) == 1 {
		return distinct[0].reason
	}
	parts := make([]string, len(distinct))
	for i, f := range distinct {
		parts[i] = f.label + ": " + f.reason
	}
	return "no candidate fits (" + strings.Join(parts, "; ") + ")"
}

func rank(choices []Choice, ordered bool, prefer *task.Infra) {
	// Sort pointers: a Choice is large to move.
	ptrs := make([]*Choice, len(choices))
	for i := range choices {
		ptrs[i] = &choices[i]
	}
	slices.SortStableFunc(ptrs, func(a, b *Choice) int { return compareChoices(a, b, ordered, prefer) })
	sorted := make([]Choice, len(choices))
	for i, c := range ptrs {
		sorted[i] = *c
	}
	copy(choices, sorted)
}

// compareChoices orders two choices: preferred location, then (ordered)
// the candidate, cost, cloud, region, instance type, on-demand first,
// candidate.
func compareChoices(a, b *Choice, ordered bool, prefer *task.Infra) int {
	if prefer != nil {
		pa, pb := inLocation(&a.Offering, *prefer), inLocation(&b.Offering, *prefer)
		if pa != pb {
			return boolFirst(pa)
		}
	}
	if ordered && a.Candidate != b.Candidate {
		return a.Candidate - b.Candidate
	}
	if math.Abs(a.HourlyCost-b.HourlyCost) > eps {
		return boolFirst(a.HourlyCost < b.HourlyCost)
	}
	if c := strings.Compare(a.Offering.Cloud, b.Offering.Cloud); c != 0 {
		return c
	}
	if c := strings.Compare(a.Offering.Region, b.Offering.Region); c != 0 {
		return c
	}
	if c := strings.Compare(a.Offering.InstanceType, b.Offering.InstanceType); c != 0 {
		return c
	}
	if a.Spot != b.Spot {
		return boolFirst(!a.Spot)
	}
	return a.Candidate - b.Candidate
}

// boolFirst is -1 when the first of two compared values comes first.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}

// request is one candidate resource request with SkyPilot's defaults worked
// out.
type request struct {
	r   task.Resources
	acc *task.Accelerator
	// defaults is true when neither an accelerator nor an instance type is
	// requested, so SkyPilot's default instance rules apply.
	defaults bool
}

// newRequest reads one candidate. A candidate carries at most one
// accelerator (task.Task.Candidates); should it carry more, the first counts.
func newRequest(r task.Resources) request {
	q := request{r: r}
	if len(r.Accelerators) > 0 {
		a := r.Accelerators[0]
		q.acc = &a
	}
	q.defaults = q.acc == nil && r.InstanceType == ""
	return q
}

func (q request) price(o *Offering) float64 {
	if !q.r.UseSpot {
		return o.OnDemandPrice
	}
	if z := q.r.Infra.Zone; !isWild(z) && o.ZoneSpotPrices != nil {
		for _, zone := range o.Zones {
			if strings.EqualFold(zone, z) {
				return o.ZoneSpotPrices[zone] // 0: no spot in that zone
			}
		}
	}
	return o.SpotPrice
}

// cpus is the vCPU request for o, with the default applied, or nil.
func (q request) cpus(o *Offering) *task.Quantity {
	if q.r.CPUs != nil {
		return q.r.CPUs
	}
	if q.defaults && o.Cloud != LocalCloud && q.r.Memory == nil {
		return &task.Quantity{Value: defaultVCPUs, AtLeast: true}
	}
	return nil
}

func (q request) memoryFits(o *Offering) bool {
	if q.r.Memory != nil {
		return hostFits(o, *q.r.Memory, o.MemoryGB)
	}
	if q.defaults && o.Cloud != LocalCloud {
		return o.MemoryGB+eps >= defaultMemPerVCPU*o.VCPUs
	}
	return true
}

// label names the candidate in messages: "H100:8 (spot)".
func (q request) label() string {
	var s string
	switch {
	case q.acc != nil:
		s = accelString(*q.acc)
	case q.r.InstanceType != "":
		s = q.r.InstanceType
	default:
		s = cpuMemString(q.r)
		if s == "" {
			s = "CPU"
		}
	}
	if q.r.UseSpot {
		s += " (spot)"
	}
	return s
}

// stage is one filter of fit: the offerings it keeps, and why none is left.
type stage struct {
	keep func(*Offering) bool
	// fallback, if set, is tried when keep leaves nothing.
	fallback func(*Offering) bool
	why      func(before []*Offering) string
}

// fit returns the offerings that fit q under cons, or the reason none does:
// the explanation of the first filter that leaves nothing. The filters run
// first over the offerings of the requested accelerator or instance type
// (or those without accelerator), which holds every offering that can
// fit; only when nothing fits do they run over the whole catalog, for the
// reason.
func (c *Catalog) fit(q request, cons Constraints) ([]*Offering, string) {
	in := q.r.Infra
	switch strings.ToLower(in.Cloud) {
	case "k8s", "kubernetes", "ssh":
		return nil, fmt.Sprintf("infra %s is not supported: skynomad places tasks on aws, gcp or this host (infra: local)", infraPath(in))
	}
	idx := c.get()
	if len(idx.offerings) == 0 {
		return nil, "the catalog is empty"
	}
	stages := c.stages(q, cons)
	var some []int32
	switch {
	case q.acc != nil:
		some = idx.byGPU[strings.ToLower(q.acc.Name)]
	case q.r.InstanceType != "":
		some = idx.byType[q.r.InstanceType]
	default:
		some = idx.noGPU
	}
	if len(some) > 0 {
		cur := make([]*Offering, len(some))
		for i, n := range some {
			cur[i] = &idx.offerings[n]
		}
		if fits, _ := runStages(stages, cur); len(fits) > 0 {
			return fits, ""
		}
	}
	all := make([]*Offering, len(idx.offerings))
	for i := range idx.offerings {
		all[i] = &idx.offerings[i]
	}
	return runStages(stages, all)
}

func runStages(stages []stage, cur []*Offering) ([]*Offering, string) {
	for _, s := range stages {
		next := filter(cur, s.keep)
		if len(next) == 0 && s.fallback != nil {
			next = filter(cur, s.fallback)
		}
		if len(next) == 0 {
			return nil, s.why(cur)
		}
		cur = next
	}
	return cur, ""
}

// subsetNote says, after a location the catalog lacks, that the embedded
// copy of a cloud's catalog holds only part of SkyPilot's (every cloud's,
// for a location without one).
func (c *Catalog) subsetNote(cloud string) string {
	c.get()
	for _, o := range c.origins {
		if o.Path == "" && (isWild(cloud) || strings.EqualFold(o.Cloud, cloud)) {
			return "; skynomad embeds part of SkyPilot's catalog: skynomad catalog update downloads the whole of it"
		}
	}
	return ""
}

// stages are the filters of fit, in the order their reasons are given.
func (c *Catalog) stages(q request, cons Constraints) []stage {
	in := q.r.Infra
	cloud := strings.ToLower(in.Cloud)
	scope := c.scope(q, cons)

	stages := []stage{{
		keep: func(o *Offering) bool { return inInfra(o, in) },
		why: func(before []*Offering) string {
			return whyInfra(before, in) + c.subsetNote(in.Cloud)
		},
	}}
	if len(cons.Clouds) > 0 {
		enabled := map[string]bool{}
		for _, e := range cons.Clouds {
			enabled[strings.ToLower(e)] = true
		}
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return enabled[o.Cloud] },
			why: func([]*Offering) string {
				if !isWild(cloud) {
					return fmt.Sprintf("%s is not enabled (enabled: %s)", cloud, strings.Join(cons.Clouds, ", "))
				}
				return fmt.Sprintf("the catalog has no offering in the enabled clouds (%s)", strings.Join(cons.Clouds, ", "))
			},
		})
	}
	if q.r.InstanceType != "" {
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return o.InstanceType == q.r.InstanceType },
			why: func([]*Offering) string {
				msg := fmt.Sprintf("no instance type %s%s", q.r.InstanceType, scope)
				if where := c.locations(func(o *Offering) bool { return o.InstanceType == q.r.InstanceType }, false); where != "" {
					msg += "; it is offered in: " + where
				}
				return msg
			},
		})
	}
	switch {
	case q.acc != nil:
		a := *q.acc
		stages = append(stages, stage{
			keep: func(o *Offering) bool {
				return strings.EqualFold(o.GPU, a.Name) && math.Abs(o.GPUCount-a.Count) <= accTolerance+eps
			},
			why: func(before []*Offering) string { return c.whyAccelerator(before, a, scope) },
		})
	case q.r.InstanceType != "":
		// A machine type names no accelerator attached to it (GCP N1, TPU
		// VMs): one is asked for with accelerators.
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return !o.AttachedAccelerator() },
			why: func(before []*Offering) string {
				return fmt.Sprintf("%s needs accelerators: set accelerators to one of %s", q.r.InstanceType, capList(gpusOf(before), 8))
			},
		})
	case q.defaults:
		stages = append(stages, stage{
			keep: func(o *Offering) bool {
				return o.GPU == "" && (o.Cloud == LocalCloud || defaultFamily(o.Cloud, o.InstanceType))
			},
			why: func([]*Offering) string {
				return fmt.Sprintf("no CPU instance type of SkyPilot's default families%s; name an instance_type to use another", scope)
			},
		})
	}
	if c.refuse != nil {
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return c.refuse(*o) == "" },
			why:  func(before []*Offering) string { return c.refuse(*before[0]) },
		})
	}
	stages = append(stages, stage{
		keep: func(o *Offering) bool {
			want := q.cpus(o)
			return want == nil || hostFits(o, *want, o.VCPUs)
		},
		// An exact count no instance has (cpus: 1) rounds up to the sizes
		// above it, the cheapest of which wins.
		fallback: func(o *Offering) bool {
			want := q.cpus(o)
			return want == nil || hostFits(o, task.Quantity{Value: want.Value, AtLeast: true}, o.VCPUs)
		},
		why: func(before []*Offering) string {
			var want *task.Quantity
			for _, o := range before {
				if want = q.cpus(o); want != nil {
					break
				}
			}
			if want == nil {
				return "no offering has the requested vCPUs"
			}
			if allLocal(before) {
				return fmt.Sprintf("this host has %s CPUs; the task asks for %s", formatNumber(before[0].VCPUs), quantityString(*want))
			}
			msg := fmt.Sprintf("no %soffering%s has %s vCPUs", q.what(), scope, quantityWords(*want))
			if q.r.CPUs == nil {
				msg += " (the default when cpus is not set)"
			}
			return msg
		},
	})
	stages = append(stages, stage{
		keep: q.memoryFits,
		why: func(before []*Offering) string {
			if allLocal(before) && q.r.Memory != nil {
				return fmt.Sprintf("this host has %s GB of memory; the task asks for %s GB", formatNumber(before[0].MemoryGB), quantityString(*q.r.Memory))
			}
			if q.r.Memory == nil {
				return fmt.Sprintf("no %soffering%s with the requested vCPUs has %d GB of memory per vCPU (the default when memory is not set)", q.what(), scope, defaultMemPerVCPU)
			}
			return fmt.Sprintf("no %soffering%s with the requested vCPUs has %s GB of memory", q.what(), scope, quantityWords(*q.r.Memory))
		},
	})
	if q.r.UseSpot {
		stages = append(stages, stage{
			// This host "has spot capacity": fault injection preempts it.
			keep: func(o *Offering) bool { return q.price(o) > 0 || o.Cloud == LocalCloud },
			why: func(before []*Offering) string {
				where := ""
				if !isWild(in.Zone) {
					where = " in zone " + in.Zone
				}
				return fmt.Sprintf("no fitting %soffering%s has spot capacity%s (%s)", q.what(), scope, where, listOfferings(before, 6))
			},
		})
	}
	if len(cons.Blocked) > 0 {
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return !blocked(o, cons.Blocked) },
			why: func(before []*Offering) string {
				return fmt.Sprintf("every fitting offering is in a location blocked after earlier attempts (%s)", listLocations(before))
			},
		})
	}
	if q.r.MaxHourlyCost > 0 {
		stages = append(stages, stage{
			keep: func(o *Offering) bool { return q.price(o) <= q.r.MaxHourlyCost+eps },
			why: func(before []*Offering) string {
				cheapest := before[0]
				for _, o := range before[1:] {
					if q.price(o) < q.price(cheapest) {
						cheapest = o
					}
				}
				return fmt.Sprintf("the cheapest fitting offering (%s %s %s) costs $%.2f an hour; max_hourly_cost is $%.2f",
					cheapest.Cloud, cheapest.Region, cheapest.InstanceType, q.price(cheapest), q.r.MaxHourlyCost)
			},
		})
	}
	return stages
}

// whyAccelerator explains why no offering has the requested accelerator
// count: where the accelerator is offered, and for a fractional count,
// which counts are.
func (c *Catalog) whyAccelerator(before []*Offering, a task.Accelerator, scope string) string {
	if allLocal(before) {
		return fmt.Sprintf("this host has no GPU; the task asks for %s", accelString(a))
	}
	msg := fmt.Sprintf("no offering has %s %s%s", formatNumber(a.Count)+"x", a.Name, scope)
	named := func(o *Offering) bool { return strings.EqualFold(o.GPU, a.Name) }
	where := c.locations(named, true)
	if where == "" {
		return msg + fmt.Sprintf("; the catalog has no %s (accelerators: %s)", a.Name, capList(c.gpuNames(), 40))
	}
	if a.Count != math.Trunc(a.Count) {
		var counts []float64
		for i := range c.get().offerings {
			if o := &c.get().offerings[i]; named(o) && !slices.Contains(counts, o.GPUCount) {
				counts = append(counts, o.GPUCount)
			}
		}
		slices.Sort(counts)
		list := make([]string, len(counts))
		for i, n := range counts {
			list[i] = a.Name + ":" + formatNumber(n)
		}
		return msg + fmt.Sprintf("; a fractional count needs an instance type that has that fraction of a %s, as SkyPilot plans it, and none does: use one of %s",
			a.Name, strings.Join(list, ", "))
	}
	return msg + fmt.Sprintf("; %s is offered in: %s", a.Name, where)
}

// what names the requested accelerator or instance type for messages,
// with a trailing space, or "".
func (q request) what() string {
	switch {
	case q.acc != nil:
		return accelString(*q.acc) + " "
	case q.r.InstanceType != "":
		return q.r.InstanceType + " "
	}
	return ""
}

// scope is " in aws/us-east-1" for the candidate's infra, " in aws, gcp" for
// the enabled clouds when the infra names no cloud, or "".
func (c *Catalog) scope(q request, cons Constraints) string {
	if !isWild(q.r.Infra.Cloud) || !isWild(q.r.Infra.Region) {
		return " in " + infraPath(q.r.Infra)
	}
	if len(cons.Clouds) > 0 {
		return " in " + strings.Join(cons.Clouds, ", ")
	}
	return ""
}

func whyInfra(before []*Offering, in task.Infra) string {
	cloud := strings.ToLower(in.Cloud)
	if !isWild(cloud) {
		var clouds []string
		found := false
		for _, o := range before {
			clouds = appendUnique(clouds, o.Cloud)
			found = found || o.Cloud == cloud
		}
		if !found {
			sort.Strings(clouds)
			return fmt.Sprintf("the catalog has no offering in %s (clouds: %s)", cloud, strings.Join(clouds, ", "))
		}
	}
	if !isWild(in.Region) {
		var regions []string
		found := false
		for _, o := range before {
			if isWild(cloud) || o.Cloud == cloud {
				regions = appendUnique(regions, o.Region)
				found = found || strings.EqualFold(o.Region, in.Region)
			}
		}
		if !found {
			sort.Strings(regions)
			where := "the catalog"
			if !isWild(cloud) {
				where = cloud
			}
			return fmt.Sprintf("%s has no region %s here (regions: %s)", where, in.Region, strings.Join(regions, ", "))
		}
	}
	return fmt.Sprintf("no offering in %s", infraPath(in))
}

// locations lists the places offerings matching f are offered, over the
// whole catalog: "aws us-east-1 (p5.48xlarge: 8x H100), ...".
func (c *Catalog) locations(f func(*Offering) bool, withGPU bool) string {
	var items []string
	offs := c.get().offerings
	for i := range offs {
		o := &offs[i]
		if !f(o) {
			continue
		}
		item := o.Cloud + " " + o.Region + " (" + o.InstanceType
		if withGPU && o.GPU != "" {
			item += ": " + formatNumber(o.GPUCount) + "x " + o.GPU
		}
		items = appendUnique(items, item+")")
	}
	sort.Strings(items)
	return capList(items, 8)
}

func (c *Catalog) gpuNames() []string {
	var names []string
	for _, o := range c.get().offerings {
		if o.GPU != "" {
			names = appendUnique(names, o.GPU)
		}
	}
	sort.Strings(names)
	return names
}

func gpusOf(offs []*Offering) []string {
	var names []string
	for _, o := range offs {
		if o.GPU != "" {
			names = appendUnique(names, accelString(task.Accelerator{Name: o.GPU, Count: o.GPUCount}))
		}
	}
	sort.Strings(names)
	return names
}

func listOfferings(offs []*Offering, max int) string {
	var items []string
	for _, o := range offs {
		items = appendUnique(items, o.Cloud+" "+o.Region+" "+o.InstanceType)
	}
	sort.Strings(items)
	return capList(items, max)
}

func listLocations(offs []*Offering) string {
	var items []string
	for _, o := range offs {
		items = appendUnique(items, o.Cloud+"/"+o.Region)
	}
	sort.Strings(items)
	return capList(items, 8)
}

func capList(items []string, max int) string {
	if len(items) > max {
		return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
	}
	return strings.Join(items, ", ")
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func allLocal(offs []*Offering) bool {
	for _, o := range offs {
		if o.Cloud != LocalCloud {
			return false
		}
	}
	return len(offs) > 0
}

func isWild(s string) bool { return s == "" || s == "*" }

// inInfra reports whether o lies in the requested location. A zone matches
// one of the offering's zones by name; AWS offerings list zone IDs
// (use1-az1) because zone names are account-specific, so an AWS zone name
// matches any offering of its region ("us-east-1a" is in "us-east-1").
func inInfra(o *Offering, in task.Infra) bool {
	cloud := strings.ToLower(in.Cloud)
	if !isWild(cloud) && o.Cloud != cloud {
		return false
	}
	if !isWild(in.Region) && !strings.EqualFold(o.Region, in.Region) {
		return false
	}
	if !isWild(in.Zone) {
		for _, z := range o.Zones {
			if strings.EqualFold(z, in.Zone) {
				return true
			}
		}
		if len(o.Zones) == 0 || o.Cloud == AWS {
			return strings.HasPrefix(strings.ToLower(in.Zone), strings.ToLower(o.Region))
		}
		return false
	}
	return true
}

// inLocation matches cloud and region only (a preferred or blocked place).
func inLocation(o *Offering, at task.Infra) bool {
	if !isWild(at.Cloud) && !strings.EqualFold(o.Cloud, at.Cloud) {
		return false
	}
	return isWild(at.Region) || strings.EqualFold(o.Region, at.Region)
}

func blocked(o *Offering, list []task.Infra) bool {
	for _, b := range list {
		if isWild(b.Cloud) && isWild(b.Region) {
			continue // an empty entry blocks nothing
		}
		if inLocation(o, b) {
			return true
		}
	}
	return false
}

func infraPath(in task.Infra) string {
	parts := []string{orStar(strings.ToLower(in.Cloud))}
	if !isWild(in.Region) || !isWild(in.Zone) {
		parts = append(parts, orStar(in.Region))
	}
	if !isWild(in.Zone) {
		parts = append(parts, in.Zone)
	}
	return strings.Join(parts, "/")
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// defaultFamily reports whether an instance type belongs to the CPU families
// SkyPilot picks from when a request names no instance type or accelerator
// (_DEFAULT_INSTANCE_FAMILY in sky/catalog/aws_catalog.py and gcp_catalog.py).
// Clouds without a known list have no restriction.
func defaultFamily(cloud, instance string) bool {
	var prefixes []string
	switch cloud {
	case "aws":
		prefixes = []string{"m6i.", "m6id.", "m7i.", "r6i.", "r6id.", "r7i.", "c6i.", "c6id.", "c7i."}
	case "gcp":
		prefixes = []string{"n2-standard-", "n2-highmem-", "n2-highcpu-", "n4-standard-", "n4-highcpu-", "n4-highmem-"}
	default:
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(instance, p) {
			return true
		}
	}
	return false
}

func quantityFits(want task.Quantity, have float64) bool {
	if want.AtLeast {
		return have+eps >= want.Value
	}
	return math.Abs(have-want.Value) < eps
}

// quantityString is "8+" or "8".
func quantityString(q task.Quantity) string {
	s := formatNumber(q.Value)
	if q.AtLeast {
		s += "+"
	}
	return s
}

// quantityWords is "8 or more" or "exactly 8".
func quantityWords(q task.Quantity) string {
	if q.AtLeast {
		return formatNumber(q.Value) + " or more"
	}
	return "exactly " + formatNumber(q.Value)
}

func accelString(a task.Accelerator) string {
	return a.Name + ":" + formatNumber(a.Count)
}

// hostFits is quantityFits, except that this host is shared: any request up
// to what it has fits it, exact or not.
func hostFits(o *Offering, want task.Quantity, have float64) bool {
	if o.Cloud == LocalCloud {
		return want.Value <= have+eps
	}
	return quantityFits(want, have)
}

func filter(offs []*Offering, keep func(*Offering) bool) []*Offering {
	var out []*Offering
	for _, o := range offs {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out
}
