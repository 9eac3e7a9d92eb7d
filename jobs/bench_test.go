package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skynomad/skynomad/dashboard"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
	"github.com/skynomad/skynomad/jobs/server"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// startController runs a controller with the fake engine and planner, its
// API on a unix socket, and returns it with a client.
func startController(b *testing.B, dir string, script func(*enginetest.Fake)) (*jobs.Controller, *client.Client, func()) {
	b.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	q := jobs.NewEventQueue()
	eng := enginetest.NewFake(q.Sink)
	if script != nil {
		script(eng)
	}
	ctl, err := jobs.New(jobs.Config{
		Store: st, Engine: eng, Events: q, Planner: &jobs.FakePlanner{Offerings: jobs.TestOfferings},
		LogDir: filepath.Join(dir, "logs"),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ctl.Start(ctx); err != nil {
		b.Fatal(err)
	}
	c, unserve := serveAPI(b, ctx, filepath.Join(dir, "c.sock"), ctl)
	stop := func() {
		cancel()
		unserve()
		ctl.Stop()
		st.Close()
	}
	return ctl, c, stop
}

// filledController starts a controller on a store holding n jobs
// (jobs.FillStore: one in ten running, the rest finished).
func filledController(b *testing.B, n int) (*jobs.Controller, *client.Client, func()) {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	jobs.FillStore(b, st, n, time.Now())
	st.Close()
	return startController(b, dir, nil)
}

// serveAPI serves ctl's HTTP API on the unix socket sock until stop, and
// returns a client of it.
func serveAPI(b *testing.B, ctx context.Context, sock string, ctl *jobs.Controller) (c *client.Client, stop func()) {
	b.Helper()
	l, err := server.ListenUnix(sock)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		server.New(server.Config{Backend: ctl}).Serve(ctx, l)
		close(served)
	}()
	c, err = client.New("unix://"+sock, "")
	if err != nil {
		b.Fatal(err)
	}
	return c, func() { cancel(); <-served }
}

// BenchmarkQueue10k lists 10,000 jobs through the HTTP API over a unix
// socket, as `skynomad jobs queue -a` does (gob), and as a JSON client
// would.
func BenchmarkQueue10k(b *testing.B) {
	const n = 10000
	_, c, stop := filledController(b, n)
	defer stop()
	ctx := context.Background()

	b.Run("client", func(b *testing.B) {
		for b.Loop() {
			resp, err := c.Queue(ctx, api.QueueRequest{All: true})
			if err != nil {
				b.Fatal(err)
			}
			if len(resp.Jobs) != n {
				b.Fatalf("%d jobs, want %d", len(resp.Jobs), n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/job")
	})
	b.Run("json", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", strings.TrimPrefix(c.Addr(), "unix://"))
			},
		}}
		for b.Loop() {
			resp, err := hc.Post("http://c/v1/jobs/queue", "application/json", bytes.NewReader([]byte(`{"all":true}`)))
			if err != nil {
				b.Fatal(err)
			}
			var out api.QueueResponse
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || len(out.Jobs) != n {
				b.Fatalf("%d jobs, %v", len(out.Jobs), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/job")
	})
}

// BenchmarkSubmit1000ToTerminal submits 1,000 jobs at once (--num-jobs
// 1000) through the API to a controller whose fake engine finishes every
// attempt at once, and waits until all of them SUCCEEDED: the controller's
// own overhead per job (planning, SQLite writes, events).
func BenchmarkSubmit1000ToTerminal(b *testing.B) {
	const n = 1000
	dag := task.DAG{Name: "bench", Tasks: []task.Task{{Name: "bench", NumNodes: 1, Run: "true", Candidates: []task.Resources{{}}}}}
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		ctl, c, stop := startController(b, b.TempDir(), func(e *enginetest.Fake) { e.SetScript(enginetest.Succeed) })
		b.StartTimer()
		start := time.Now()
		resp, err := c.Launch(ctx, api.LaunchRequest{DAG: dag, User: "bench", NumJobs: n})
		if err != nil || len(resp.JobIDs) != n {
			b.Fatalf("launch: %v", err)
		}
		for {
			left, err := ctl.Queue(ctx, api.QueueRequest{SkipFinished: true})
			if err != nil {
				b.Fatal(err)
			}
			if len(left.Jobs) == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		done, err := ctl.Queue(ctx, api.QueueRequest{All: true})
		if err != nil {
			b.Fatal(err)
		}
		for _, j := range done.Jobs {
			if j.Status != api.StatusSucceeded {
				b.Fatalf("job %d ended %s", j.ID, j.Status)
			}
		}
		stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/(total.Seconds()/float64(b.N)), "jobs/s")
}

// BenchmarkDashboardJobsPage10k renders the dashboard's jobs page (its
// first 50 rows, the counts and the histogram) from a controller holding
// 10,000 jobs: the server-side time of one page view, which must stay
// under 200 ms.
func BenchmarkDashboardJobsPage10k(b *testing.B) {
	ctl, _, stop := filledController(b, 10000)
	defer stop()
	d := dashboard.New(dashboard.Config{Backend: ctl})
	for _, page := range []string{"/", "/?status=active&sort=cost&dir=desc&page=3", "/?q=job-42"} {
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, httptest.NewRequest("GET", page, nil))
				if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`data-job-id=`)) {
					b.Fatalf("GET %s: %d\n%.300s", page, rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
}

// BenchmarkDashboardSSEIdle100 holds 100 dashboards' /events streams open
// on a controller serving TCP with its token (the API server, the
// dashboard and the controller in this process), idle for 2 s, and reports
// the process's CPU use meanwhile: user+system time over wall time. A job
// submitted then must reach all 100.
func BenchmarkDashboardSSEIdle100(b *testing.B) {
	const streams, idle, token = 100, 2 * time.Second, "bench-token"
	dir := b.TempDir()
	ctl, _, stop := startController(b, dir, func(f *enginetest.Fake) { f.SetScript(enginetest.Succeed) })
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go server.New(server.Config{Backend: ctl, Token: token, Dashboard: dashboard.New(dashboard.Config{Backend: ctl})}).Serve(ctx, ln)
	url := "http://" + ln.Addr().String() + "/events"
	var cpuPercent float64
	for b.Loop() {
		sctx, closeStreams := context.WithCancel(ctx)
		events := make(chan int, streams)
		for i := range streams {
			req, _ := http.NewRequestWithContext(sctx, "GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("stream %d: %v %v", i, resp, err)
			}
			go func() {
				defer resp.Body.Close()
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if sc.Text() == "event: job" {
						events <- i
						return
					}
				}
			}()
		}
		before, start := cpuTime(b), time.Now()
		time.Sleep(idle)
		cpuPercent = float64(cpuTime(b)-before) / float64(time.Since(start)) * 100

		if _, err := ctl.Submit(ctx, api.LaunchRequest{DAG: task.DAG{Name: "wake", Tasks: []task.Task{{Name: "wake", NumNodes: 1, Run: "true", Candidates: []task.Resources{{}}}}}, User: "bench"}); err != nil {
			b.Fatal(err)
		}
		for range streams {
			select {
			case <-events:
			case <-time.After(10 * time.Second):
				b.Fatal("a job change did not reach every open dashboard")
			}
		}
		closeStreams()
	}
	b.ReportMetric(cpuPercent, "cpu%")
}

// cpuTime is the user and system time this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
