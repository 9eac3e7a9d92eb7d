package jobs

import (
	"fmt"
	"slices"
	"sync"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// FakePlanner plans over a fixed list of offerings: every candidate of the
// task × every offering in its infra, in list order (cheapest first is the
// list's business), Blocked locations skipped, Prefer first.
type FakePlanner struct {
	Offerings []catalog.Offering
	mu        sync.Mutex
	calls     []catalog.Constraints
	// Hook, if set, runs first in every Plan call.
	Hook func(t task.Task, cons catalog.Constraints)
}

func (p *FakePlanner) Plan(t task.Task, cons catalog.Constraints) ([]catalog.Choice, error) {
	if p.Hook != nil {
		p.Hook(t, cons)
	}
	p.mu.Lock()
	p.calls = append(p.calls, cons)
	p.mu.Unlock()
	var out, preferred []catalog.Choice
	for i, cand := range t.Candidates {
		for _, o := range p.Offerings {
			if cand.Infra.Cloud != "" && cand.Infra.Cloud != o.Cloud ||
				cand.Infra.Region != "" && cand.Infra.Region != o.Region {
				continue
			}
			if len(cons.Clouds) > 0 && !slices.Contains(cons.Clouds, o.Cloud) {
				continue
			}
			if slices.ContainsFunc(cons.Blocked, func(b task.Infra) bool {
				return b.Cloud == o.Cloud && (b.Region == "" || b.Region == o.Region)
			}) {
				continue
			}
			ch := catalog.Choice{Offering: o, Spot: cand.UseSpot, Candidate: i, HourlyCost: o.OnDemandPrice}
			if cons.Prefer != nil && cons.Prefer.Cloud == o.Cloud && cons.Prefer.Region == o.Region {
				preferred = append(preferred, ch)
			} else {
				out = append(out, ch)
			}
		}
	}
	out = append(preferred, out...)
	if len(out) == 0 {
		return nil, catalog.NoFit(fmt.Sprintf("nothing for %q", t.Name))
	}
	return out, nil
}

// Calls returns the constraints of every Plan call.
func (p *FakePlanner) Calls() []catalog.Constraints {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// TestOfferings are three regions of one cloud plus one of another.
var TestOfferings = []catalog.Offering{
	{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.1, SpotPrice: 0.03},
	{Cloud: "aws", Region: "us-west-2", InstanceType: "m6i.large", VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.11, SpotPrice: 0.035},
	{Cloud: "aws", Region: "eu-west-1", InstanceType: "m6i.large", VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.12, SpotPrice: 0.04},
	{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-2", VCPUs: 2, MemoryGB: 8, OnDemandPrice: 0.13, SpotPrice: 0.05},
}
