package jobs

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// A spot job of 2 × m6i.large in us-east-1, preempted once, priced from
// the embedded catalog: on-demand $0.096/h, spot $0.0311/h (its cheapest
// zone, use1-az1, in SkyPilot's catalog).
//
//	attempt 1: placed at t0, preempted at t0+2h        → 2 h
//	attempt 2: placed at t0+2h10m, exits 0 at t0+3h40m → 1.5 h
//
//	spent     = (2 + 1.5) h × 2 nodes × $0.0311 = $0.2177
//	on-demand = (2 + 1.5) h × 2 nodes × $0.096  = $0.6720
//	savings   = $0.4543
func TestCostOfASpotJobPreemptedOnce(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(-5 * time.Hour).Truncate(time.Second)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var clock atomic.Int64 // what the controller's clock says
	clock.Store(at(-time.Minute).UnixNano())
	h := newHarness(t, func(c *Config) {
		c.Planner = catalog.Default()
		c.Clock = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	h.eng.SetScript(func(a engine.Attempt) []engine.Event {
		ref, node := a.Ref, "node-"+a.Choice.Offering.Region
		if ref.Attempt == 1 {
			clock.Store(at(2 * time.Hour).UnixNano())
			return []engine.Event{
				{Ref: ref, Kind: engine.EventPlaced, Node: node, Time: at(0)},
				{Ref: ref, Kind: engine.EventRunning, Time: at(0)},
				{Ref: ref, Kind: engine.EventPreempted, Node: node, Reason: "spot interruption notice", Time: at(2 * time.Hour)},
			}
		}
		clock.Store(at(3*time.Hour + 40*time.Minute).UnixNano())
		return []engine.Event{
			{Ref: ref, Kind: engine.EventPlaced, Node: node, Time: at(2*time.Hour + 10*time.Minute)},
			{Ref: ref, Kind: engine.EventRunning, Time: at(2*time.Hour + 10*time.Minute)},
			{Ref: ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Time: at(3*time.Hour + 40*time.Minute)},
		}
	})
	spot := task.Resources{Infra: task.Infra{Cloud: "aws", Region: "us-east-1"}, InstanceType: "m6i.large", UseSpot: true,
		JobRecovery: task.JobRecovery{Strategy: task.StrategyFailover}}
	id := h.submit(oneTask("train", func(tk *task.Task) {
		tk.NumNodes = 2
		tk.Resources, tk.Candidates = spot, []task.Resources{spot}
	}))
	j := h.waitTerminal(id)
	if j.Status != api.StatusSucceeded || j.Recoveries != 1 {
		t.Fatalf("job %s with %d recoveries, want SUCCEEDED after 1", j.Status, j.Recoveries)
	}
	want := api.Cost{Spent: 0.2177, OnDemand: 0.6720, Savings: 0.4543}
	if j.Cost == nil || !near(*j.Cost, want) {
		t.Fatalf("job cost %+v, want %+v", j.Cost, want)
	}
	if tk := j.Tasks[0]; tk.Cost == nil || !near(*tk.Cost, want) {
		t.Errorf("task cost %+v, want %+v", tk.Cost, want)
	}

	// The job page prices each attempt alone.
	d, err := h.ctl.JobDetail(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 2 {
		t.Fatalf("%d attempts, want 2", len(d.Attempts))
	}
	for i, w := range []api.Cost{
		{Spent: 0.1244, OnDemand: 0.3840, Savings: 0.2596},
		{Spent: 0.0933, OnDemand: 0.2880, Savings: 0.1947},
	} {
		if a := d.Attempts[i]; a.Cost == nil || !near(*a.Cost, w) || !a.Spot {
			t.Errorf("attempt %d: cost %+v spot %v, want %+v on spot", i+1, a.Cost, a.Spot, w)
		}
	}
	if d.Attempts[0].Outcome != "preempted" || d.Attempts[1].Outcome != "succeeded" {
		t.Errorf("outcomes %q, %q, want preempted, succeeded", d.Attempts[0].Outcome, d.Attempts[1].Outcome)
	}
	var got []string
	for _, c := range d.Timeline {
		got = append(got, fmt.Sprintf("%s %s %d", c.At.Sub(t0), c.Status, c.Attempt))
	}
	want2 := []string{
		"-1m0s PENDING 0", "-1m0s STARTING 1", "0s STARTING 1", "0s RUNNING 1", "2h0m0s RECOVERING 1",
		"2h0m0s RECOVERING 2", "2h10m0s RECOVERING 2", "2h10m0s RUNNING 2", "3h40m0s SUCCEEDED 2",
	}
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}

func near(got, want api.Cost) bool {
	const eps = 5e-5
	return math.Abs(got.Spent-want.Spent) < eps && math.Abs(got.OnDemand-want.OnDemand) < eps &&
		math.Abs(got.Savings-want.Savings) < eps
}
