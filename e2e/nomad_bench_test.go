package e2e

import (
	"fmt"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/translator"
)

// BenchmarkNomadSubmit200 compares submitting 200 managed jobs through
// skynomad (CLI → controller → Nomad engine) with registering the same 200
// rendered jobspecs straight through the Nomad API. Both clocks stop when
// Nomad lists all 200 jobs. Needs NOMAD_ADDR (a Nomad 1.6.1 agent
// whose clients have the skypilot driver); skipped otherwise (failed in CI).
func BenchmarkNomadSubmit200(b *testing.B) {
	const n = 200
	realagent.Addr(b, "NOMAD_ADDR", "this benchmark needs a Nomad agent; `make bench` starts one")
	nc, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	nomad := targets()[1]
	for range b.N {
		b.StopTimer()
		// Straight through the API, in a namespace of its own.
		ns := nomadNamespace(b, fmt.Sprintf("sky-bench-direct-%d", time.Now().UnixNano()))
		specs := render200(b, n)
		w := &nomadapi.WriteOptions{Namespace: ns}
		start := time.Now()
		for _, job := range specs {
			if _, _, err := nc.Jobs().Register(job, w); err != nil {
				b.Fatalf("register %s: %v", *job.ID, err)
			}
		}
		waitNomadJobs(b, nc, ns, n)
		direct := time.Since(start)

		// Through skynomad.
		h := newHarness(b, nomad)
		h.mustRun("jobs", "queue") // controller up, outside the timing
		ns = namespaceOf(h)
		start = time.Now()
		h.mustRun("jobs", "launch", "-d", "-y", "--num-jobs", fmt.Sprint(n), "testdata/short.yaml")
		waitNomadJobs(b, nc, ns, n)
		through := time.Since(start)
		h.shutdown()

		b.ReportMetric(direct.Seconds(), "direct-s")
		b.ReportMetric(through.Seconds(), "skynomad-s")
		b.ReportMetric(through.Seconds()/direct.Seconds(), "ratio")
		b.StartTimer()
	}
}

// render200 renders short.yaml as jobs 1..n would be, for the local shape
// placed on any node (as the e2e harness's controller does).
func render200(b *testing.B, n int) []*nomadapi.Job {
	b.Helper()
	dag, err := translator.LoadFile("testdata/short.yaml", translator.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	local, err := catalog.Local()
	if err != nil {
		b.Fatal(err)
	}
	var jobs []*nomadapi.Job
	for id := int64(1); id <= int64(n); id++ {
		ts, err := render.Preview(dag, render.PreviewOptions{
			JobID: id, Submitted: time.Now(), Catalog: catalog.New([]catalog.Offering{local}),
			Render: render.Options{RunnerPath: skynomad},
		})
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, ts[0].Job)
	}
	return jobs
}

func namespaceOf(h *harness) string {
	if h.ns == "" {
		h.t.Fatal("the harness has no Nomad namespace")
	}
	return h.ns
}

// waitNomadJobs polls until Nomad lists n jobs in ns.
func waitNomadJobs(b *testing.B, nc *nomadapi.Client, ns string, n int) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		jobs, _, err := nc.Jobs().List(&nomadapi.QueryOptions{Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("Nomad lists %d of %d jobs in %s after 5m", len(jobs), n, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
