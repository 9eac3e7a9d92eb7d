package catalog

import (
	"math"
	"strings"
	"testing"
)

func TestCoLocatePicksOneRegionForTheWholeGroup(t *testing.T) {
	t.Parallel()
	at := func(region, instance string, cost float64) Choice {
		return Choice{Offering: Offering{Cloud: "aws", Region: region, InstanceType: instance}, HourlyCost: cost}
	}
	server := []Choice{at("us-east-1", "m6i.large", 0.1), at("eu-west-1", "m6i.large", 0.12)}
	// The GPU task is cheapest in us-west-2, where the server is not offered.
	trainer := []Choice{at("us-west-2", "g5.xlarge", 1.0), at("eu-west-1", "g5.xlarge", 1.1), at("us-east-1", "g5.xlarge", 1.2)}
	got, err := CoLocate([]string{"server", "trainer"}, [][]Choice{server, trainer})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d placements, want 2 (us-east-1 and eu-west-1)", len(got))
	}
	best := got[0]
	if best.Offering.Region != "eu-west-1" || math.Abs(best.HourlyCost-1.22) > 1e-9 {
		t.Fatalf("best placement is %s at %.2f/h, want eu-west-1 at 1.22/h", best.Offering.Region, best.HourlyCost)
	}
	for i, m := range best.Members {
		if m.Offering.Region != "eu-west-1" {
			t.Errorf("member %d placed in %s, want eu-west-1 with the others", i, m.Offering.Region)
		}
	}
}

func TestCoLocateSaysWhereEachTaskFits(t *testing.T) {
	t.Parallel()
	a := []Choice{{Offering: Offering{Cloud: "aws", Region: "us-east-1"}}}
	b := []Choice{{Offering: Offering{Cloud: "gcp", Region: "us-central1"}}}
	_, err := CoLocate([]string{"a", "b"}, [][]Choice{a, b})
	if !IsNoFit(err) {
		t.Fatalf("want a NoFitError, got %v", err)
	}
	for _, want := range []string{"one cloud region", "a fits in aws/us-east-1", "b fits in gcp/us-central1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
