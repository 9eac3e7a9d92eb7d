package jobs_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/sdk"

	"github.com/skynomad/skynomad/autoscaler-plugin/apm"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// idleEngine runs nothing: an attempt is placed and running as soon as it
// is launched, and stays so until end is called for it (or it is
// stopped). It holds one map entry per live attempt, so what a benchmark
// measures on top of it is the controller's own cost.
type idleEngine struct {
	sink engine.Sink
	mu   sync.Mutex
	live map[engine.Ref]bool
}

var _ engine.Engine = (*idleEngine)(nil)

func (e *idleEngine) Name() string { return "idle" }

func (e *idleEngine) Offerings(context.Context) ([]catalog.Offering, error) { return nil, nil }

func (e *idleEngine) Launch(_ context.Context, a *engine.Attempt) error {
	e.mu.Lock()
	e.live[a.Ref] = true
	e.mu.Unlock()
	now := time.Now()
	e.sink(engine.Event{Ref: a.Ref, Kind: engine.EventPlaced, Node: "idle", Time: now})
	e.sink(engine.Event{Ref: a.Ref, Kind: engine.EventRunning, Phase: engine.PhaseRun, Time: now})
	return nil
}

func (e *idleEngine) Resume(_ context.Context, a *engine.Attempt) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.live[a.Ref] {
		return engine.ErrNotFound
	}
	return nil
}

func (e *idleEngine) Stop(_ context.Context, ref engine.Ref) error {
	e.mu.Lock()
	was := e.live[ref]
	delete(e.live, ref)
	e.mu.Unlock()
	if was {
		e.sink(engine.Event{Ref: ref, Kind: engine.EventStopped, Time: time.Now()})
	}
	return nil
}

func (e *idleEngine) Logs(context.Context, engine.Ref, engine.LogOptions) (io.ReadCloser, error) {
	return nil, engine.ErrNotFound
}

// end makes a live attempt exit 0.
func (e *idleEngine) end(ref engine.Ref) {
	e.mu.Lock()
	delete(e.live, ref)
	e.mu.Unlock()
	e.sink(engine.Event{Ref: ref, Kind: engine.EventExited, Phase: engine.PhaseRun, Time: time.Now()})
}

// liveRefs lists the running attempts.
func (e *idleEngine) liveRefs() []engine.Ref {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]engine.Ref, 0, len(e.live))
	for r := range e.live {
		out = append(out, r)
	}
	return out
}

// rssKiB is this process's resident memory.
func rssKiB(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkTenThousandRunning keeps 10,000 managed jobs RUNNING on one
// controller (on an engine that runs nothing) and reports:
//   - kib/job: the process's resident memory per running job (RSS after,
//     less RSS before the controller started, over 10,000);
//   - lag-p50-ms, lag-p99-ms, lag-max-ms: how long the controller's loop
//     took to answer while 100 jobs a second changed state (one exits
//     SUCCEEDED and a new one is submitted and starts, every 10 ms);
//   - queue-ms: `jobs queue` (the default view: every job in progress) at
//     that size;
//   - apm-ms: skynomad-apm's answer to demand/<node class> (mean of 100),
//     through the controller's HTTP API.
func BenchmarkTenThousandRunning(b *testing.B) {
	n := benchJobs()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		before := rssKiB(b)
		st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		q := jobs.NewEventQueue()
		eng := &idleEngine{sink: q.Sink, live: map[engine.Ref]bool{}}
		offering := catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.2xlarge", VCPUs: 8, MemoryGB: 32, OnDemandPrice: 0.384}
		ctl, err := jobs.New(jobs.Config{
			Store: st, Engine: eng, Events: q, Planner: catalog.New([]catalog.Offering{offering}),
			LogDir: filepath.Join(dir, "logs"),
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := ctl.Start(ctx); err != nil {
			b.Fatal(err)
		}
		dag := task.DAG{Name: "idle", Tasks: []task.Task{{Name: "idle", NumNodes: 1, Run: "sleep infinity",
			Candidates: []task.Resources{{}}}}}
		b.StartTimer()
		if _, err := ctl.Submit(ctx, api.LaunchRequest{DAG: dag, User: "bench", NumJobs: n}); err != nil {
			b.Fatal(err)
		}
		running := func() int {
			res, err := ctl.Queue(ctx, api.QueueRequest{Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			return res.InProgress[api.StatusRunning]
		}
		deadline := time.Now().Add(benchWait())
		for running() < n {
			if time.Now().After(deadline) {
				res, _ := ctl.Queue(ctx, api.QueueRequest{Limit: 3})
				b.Fatalf("only %d of %d running in time: %+v", running(), n, res)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		fill := b.Elapsed()
		after := rssKiB(b)

		// 100 state changes a second for 5 s while the loop is probed.
		var lags []time.Duration
		stream := time.NewTicker(10 * time.Millisecond)
		probe := time.NewTicker(10 * time.Millisecond)
		end := time.After(5 * time.Second)
		live := eng.liveRefs()
	loop:
		for i := 0; ; {
			select {
			case <-stream.C:
				eng.end(live[i%len(live)])
				i++
				if _, err := ctl.Submit(ctx, api.LaunchRequest{DAG: dag, User: "bench"}); err != nil {
					b.Fatal(err)
				}
			case <-probe.C:
				lag, err := ctl.LoopLatency(ctx)
				if err != nil {
					b.Fatal(err)
				}
				lags = append(lags, lag)
			case <-end:
				break loop
			}
		}
		stream.Stop()
		probe.Stop()
		slices.Sort(lags)
		pct := func(p float64) float64 {
			return float64(lags[int(p*float64(len(lags)-1))]) / float64(time.Millisecond)
		}

		start := time.Now()
		res, err := ctl.Queue(ctx, api.QueueRequest{})
		if err != nil {
			b.Fatal(err)
		}
		queue := time.Since(start)
		if len(res.Jobs) < n {
			b.Errorf("the queue shows %d jobs, want at least %d in progress", len(res.Jobs), n)
		}

		// skynomad-apm's answer at this size, through the HTTP API, as the
		// autoscaler agent asks it (no cache: every query reaches the loop).
		apmMS := apmQueryMS(b, ctx, dir, ctl, "sky-"+offering.Cloud+"-"+offering.Region+"-"+offering.InstanceType+"-on-demand", n)

		b.ReportMetric(float64(after-before)/float64(n), "kib/job")
		b.ReportMetric(apmMS, "apm-ms")
		b.ReportMetric(fill.Seconds(), "fill-s")
		b.ReportMetric(pct(0.5), "lag-p50-ms")
		b.ReportMetric(pct(0.99), "lag-p99-ms")
		b.ReportMetric(pct(1), "lag-max-ms")
		b.ReportMetric(float64(queue)/float64(time.Millisecond), "queue-ms")
		cancel()
		ctl.Stop()
		st.Close()
	}
}

func benchJobs() int {
	if v, err := strconv.Atoi(os.Getenv("SKYNOMAD_BENCH_JOBS")); err == nil && v > 0 {
		return v
	}
	return 10000
}

func benchWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SKYNOMAD_BENCH_WAIT")); err == nil {
		return d
	}
	return 10 * time.Minute
}

// apmQueryMS serves ctl's API on a unix socket in dir and returns the mean
// time skynomad-apm takes to answer the demand of class, which must be
// at least want nodes.
func apmQueryMS(b *testing.B, ctx context.Context, dir string, ctl *jobs.Controller, class string, want int) float64 {
	b.Helper()
	c, stop := serveAPI(b, ctx, filepath.Join(dir, "apm.sock"), ctl)
	defer stop()
	p := apm.New(hclog.NewNullLogger())
	p.Use(c, 0)
	const queries = 100
	start := time.Now()
	for range queries {
		m, err := p.Query(apm.QueryPrefix+class, sdk.TimeRange{})
		if err != nil {
			b.Fatal(err)
		}
		if int(m[0].Value) < want {
			b.Fatalf("demand of %s = %v; want at least %d", class, m[0].Value, want)
		}
	}
	return float64(time.Since(start)) / queries / float64(time.Millisecond)
}
