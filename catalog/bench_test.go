package catalog

import (
	"testing"

	"github.com/skynomad/skynomad/task"
)

// BenchmarkPlan plans an any_of A100:8 / H100:8 task, spot or on-demand,
// over the embedded catalog.
func BenchmarkPlan(b *testing.B) {
	cat := Default()
	var cands []task.Resources
	for _, g := range []string{"A100", "H100"} {
		for _, spot := range []bool{true, false} {
			cands = append(cands, task.Resources{Accelerators: []task.Accelerator{{Name: g, Count: 8}}, UseSpot: spot})
		}
	}
	tk := task.Task{Name: "bench", NumNodes: 1, Candidates: cands}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cat.Plan(tk, Constraints{}); err != nil {
			b.Fatal(err)
		}
	}
}
