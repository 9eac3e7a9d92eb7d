package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// BenchmarkJobsPage10k renders the jobs page of a 10,000-job queue: the
// default page (newest 50), and a filtered, sorted second page.
func BenchmarkJobsPage10k(b *testing.B) {
	d := newDashboard(newFake(manyJobs(10000)...), "")
	for _, bc := range []struct{ name, target string }{
		{"default", "/"},
		{"filtered_sorted", "/?status=active&status=failed&q=TRAIN&user=alice&sort=cost&page=2"},
		{"sorted_by_name", "/?sort=name&size=500"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.target, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<tr data-job-id=`) {
					b.Fatalf("GET %s: %d, no rows", bc.target, rec.Code)
				}
			}
		})
	}
}

// BenchmarkSSEIdle100 holds 100 /events streams open and idle for 2 s per
// iteration and reports the process's CPU use meanwhile (cpu%: user+system
// time over wall time); then one change must reach all 100.
func BenchmarkSSEIdle100(b *testing.B) {
	const streams = 100
	const idle = 2 * time.Second
	f := newFake()
	f.publish(api.JobEvent{ID: 1, Status: api.StatusPending})
	srv := serve(b, newDashboard(f, ""))
	var cpuPercent float64
	for b.Loop() {
		open := make([]*sseStream, streams)
		for i := range open {
			open[i] = openSSE(b, srv.URL+"/events", nil)
		}
		for _, s := range open {
			if ev := s.next(); ev.Retry == "" {
				b.Fatalf("stream opened with %+v", ev)
			}
		}
		before, start := cpuTime(b), time.Now()
		time.Sleep(idle)
		cpuPercent = float64(cpuTime(b)-before) / float64(time.Since(start)) * 100

		seq := f.publish(api.JobEvent{ID: 2, Status: api.StatusRunning})
		for i, s := range open {
			if je := jobEvent(b, s.next()); je.Seq != seq || je.ID != 2 {
				b.Fatalf("stream %d got %+v, want seq %d of job 2", i, je, seq)
			}
		}
		for _, s := range open {
			s.cancel()
		}
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
