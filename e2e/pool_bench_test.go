package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/translator"
)

// benchTask is a task whose setup takes a second, as real setups take
// minutes, and whose run marks when it started.
const benchTask = `
setup: sleep 1
run: touch "$MARK"
envs:
  MARK: null
`

// BenchmarkPoolJobToRunning: from submit until the job's run starts, on a
// free worker of a pool (no setup, no new sandbox) and as a fresh launch
// of the same task (setup first), on the local engine.
func BenchmarkPoolJobToRunning(b *testing.B) {
	h := newHarness(b, localTarget())
	c := h.apiClient()
	ctx := context.Background()
	load := func(mark string, pool bool) task.DAG {
		src := benchTask
		if pool {
			src = "pool: {workers: 1}\n" + src
		}
		dag, err := translator.Load("bench.yaml", []byte(src), translator.LoadOptions{Env: []task.EnvVar{{Name: "MARK", Value: mark}}})
		if err != nil {
			b.Fatal(err)
		}
		return *dag
	}
	h.mustRun("jobs", "queue") // starts the controller
	if _, err := c.ApplyPool(ctx, api.PoolApplyRequest{Name: "bench", DAG: load(filepath.Join(h.work, "unused"), true), User: "bench"}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(h.target.wait)
	for {
		ps, err := c.Pools(ctx, []string{"bench"})
		if err != nil {
			b.Fatal(err)
		}
		if ps[0].Ready == 1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the pool's worker never got ready:\n%s", dump(ps))
		}
		time.Sleep(20 * time.Millisecond)
	}
	runs := 0 // marks are unique across the benchmark's runs
	for _, pool := range []string{"bench", ""} {
		name := "pool-worker"
		if pool == "" {
			name = "fresh-launch"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runs++
				mark := filepath.Join(h.work, fmt.Sprintf("%s-%d", name, runs))
				dag := load(mark, false)
				start := time.Now()
				res, err := c.Launch(ctx, api.LaunchRequest{DAG: dag, User: "bench", Pool: pool})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := os.Stat(mark); err == nil {
						break
					}
					if time.Since(start) > h.target.wait {
						b.Fatalf("job %d never ran", res.JobIDs[0])
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				if j := h.waitEnd(res.JobIDs[0]); j.Status != api.StatusSucceeded {
					b.Fatalf("job %d ended %s", j.ID, j.Status)
				}
				b.StartTimer()
			}
		})
	}
}
