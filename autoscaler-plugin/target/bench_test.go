package target

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/nomad-autoscaler/sdk"
)

// BenchmarkScaleDecisions100Offerings: the agent's work per evaluation,
// Status then Scale, for 100 offerings (policies), on the real Nomad agent
// with the cloud in memory (the cloud API's own latency is not skynomad's).
// Reports decisions-per-s: offerings decided per second.
func BenchmarkScaleDecisions100Offerings(b *testing.B) {
	const offerings = 100
	mc := &memCloud{now: time.Now()}
	p, base, _ := newPlugin(b, mc)
	policies := make([]map[string]string, offerings)
	for i := range policies {
		it := fmt.Sprintf("b%d.large", i)
		pol := merged(base, map[string]string{KeyInstanceType: it, KeyNodeClass: "sky-aws-us-east-1-" + it + "-spot"})
		policies[i] = pol
		// One instance each, so that Status has something to count.
		if err := p.Scale(sdk.ScalingAction{Count: 1}, pol); err != nil {
			b.Fatal(err)
		}
	}
	decisions := 0
	for b.Loop() {
		for _, pol := range policies {
			st, err := p.Status(pol)
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Scale(sdk.ScalingAction{Count: st.Count}, pol); err == nil {
				b.Fatal("scaling to the count it has did something")
			}
			decisions++
		}
	}
	b.ReportMetric(float64(decisions)/b.Elapsed().Seconds(), "decisions-per-s")
}
