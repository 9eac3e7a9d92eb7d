package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/metrics"
)

// fakeSource answers the scrape-time questions.
type fakeSource struct {
	counts    map[api.Status]int
	countsErr error
	lag       time.Duration
	// block, when set, makes LoopLatency wait for it to close, whatever
	// its ctx says.
	block chan struct{}
	// deadline is how far the JobCounts ctx's deadline was, when called.
	deadline chan time.Duration
}

func (f *fakeSource) JobCounts(ctx context.Context) (map[api.Status]int, error) {
	if f.deadline != nil {
		d, ok := ctx.Deadline()
		if !ok {
			d = time.Time{}
		}
		f.deadline <- time.Until(d)
	}
	return f.counts, f.countsErr
}

func (f *fakeSource) LoopLatency(ctx context.Context) (time.Duration, error) {
	if f.block != nil {
		<-f.block
		return 0, errors.New("late")
	}
	return f.lag, nil
}

// scrape GETs the handler's page and returns its lines.
func scrape(t *testing.T, m *metrics.Metrics) []string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	return strings.Split(string(body), "\n")
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("scrape lacks %q", w)
		}
	}
}

var (
	spot = catalog.Choice{Spot: true, Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p3.2xlarge"}}
	host = catalog.Choice{Offering: catalog.Offering{Cloud: "local", Region: "local", InstanceType: "local"}}
)

// observeAll tells m one of everything, so every metric has a series.
func observeAll(m *metrics.Metrics) {
	m.AttemptLaunched(spot)
	m.AttemptLaunched(spot)
	m.AttemptLaunched(host)
	m.AttemptLaunched(catalog.Choice{}) // an engine that names no cloud
	m.QueueWait(3 * time.Second)
	m.TimeToRunning(12 * time.Second)
	m.AttemptEnded(spot, store.OutcomeNoCapacity, 30*time.Second)
	m.AttemptEnded(spot, store.OutcomeSucceeded, 2*time.Hour)
	m.AttemptEnded(host, store.OutcomeFailed, -time.Second) // a clock step back
	m.Recovered("spot_interruption")
	m.Restarted()
	m.Restarted()
	m.ObserveStore("save", 2*time.Millisecond)
	m.ObserveStore("list", 30*time.Millisecond)
}

func TestScrapeShowsWhatWasObserved(t *testing.T) {
	t.Parallel()
	m := metrics.New(&fakeSource{
		counts: map[api.Status]int{api.StatusRunning: 2, api.StatusPending: 1},
		lag:    3 * time.Millisecond,
	})
	observeAll(m)
	got := scrape(t, m)

	wantLines(t, got,
		`skynomad_attempt_launches_total{capacity="spot",cloud="aws",region="us-east-1"} 2`,
		`skynomad_attempt_launches_total{capacity="on-demand",cloud="local",region=""} 2`,
		`skynomad_recoveries_total{cause="spot_interruption"} 1`,
		`skynomad_recoveries_total{cause="node_lost"} 0`,
		`skynomad_recoveries_total{cause="replaced"} 0`,
		`skynomad_recoveries_total{cause="preempted"} 0`,
		`skynomad_restarts_total 2`,
		`skynomad_capacity_errors_total{cloud="aws",region="us-east-1"} 1`,
		`skynomad_attempt_duration_seconds_count{outcome="no_capacity"} 1`,
		`skynomad_attempt_duration_seconds_bucket{outcome="no_capacity",le="15"} 0`,
		`skynomad_attempt_duration_seconds_bucket{outcome="no_capacity",le="60"} 1`,
		`skynomad_attempt_duration_seconds_sum{outcome="succeeded"} 7200`,
		`skynomad_attempt_duration_seconds_bucket{outcome="succeeded",le="3600"} 0`,
		`skynomad_attempt_duration_seconds_bucket{outcome="succeeded",le="10800"} 1`,
		`skynomad_attempt_duration_seconds_bucket{outcome="succeeded",le="172800"} 1`,
		`skynomad_attempt_duration_seconds_sum{outcome="failed"} 0`,
		`skynomad_time_to_running_seconds_count 1`,
		`skynomad_time_to_running_seconds_bucket{le="10"} 0`,
		`skynomad_time_to_running_seconds_bucket{le="30"} 1`,
		`skynomad_queue_wait_seconds_count 1`,
		`skynomad_queue_wait_seconds_sum 3`,
		`skynomad_sqlite_seconds_count{op="save"} 1`,
		`skynomad_sqlite_seconds_bucket{op="save",le="0.001"} 0`,
		`skynomad_sqlite_seconds_bucket{op="save",le="0.0025"} 1`,
		`skynomad_sqlite_seconds_count{op="list"} 1`,
		`skynomad_jobs{status="RUNNING"} 2`,
		`skynomad_jobs{status="PENDING"} 1`,
		`skynomad_event_loop_lag_seconds 0.003`,
		`skynomad_scrape_errors_total{source="jobs"} 0`,
		`skynomad_scrape_errors_total{source="loop"} 0`,
	)
	if slices.Contains(got, `skynomad_capacity_errors_total{cloud="local",region=""} 1`) {
		t.Error("a failed attempt counted as a capacity error")
	}
	for _, s := range api.AllStatuses {
		if s != api.StatusRunning && s != api.StatusPending {
			wantLines(t, got, `skynomad_jobs{status="`+string(s)+`"} 0`)
		}
	}
}

func TestScrapeBoundsTheSource(t *testing.T) {
	t.Parallel()
	src := &fakeSource{deadline: make(chan time.Duration, 1)}
	m := metrics.New(src)
	scrape(t, m)
	if d := <-src.deadline; d <= 0 || d > 2*time.Second {
		t.Errorf("JobCounts asked with a deadline %v away, want within 2s", d)
	}
}

func TestFailingSourceCountsScrapeErrors(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	m := metrics.New(&fakeSource{countsErr: errors.New("database is locked"), block: block})
	metrics.SetScrapeTimeout(m, 50*time.Millisecond)
	m.Restarted()

	for n, count := range []string{"1", "2"} {
		got := scrape(t, m)
		wantLines(t, got,
			`skynomad_scrape_errors_total{source="jobs"} `+count,
			`skynomad_scrape_errors_total{source="loop"} `+count,
			// The loop never answered: it lags at least the bound.
			`skynomad_event_loop_lag_seconds 0.05`,
			`skynomad_restarts_total 1`,
			`skynomad_recoveries_total{cause="preempted"} 0`,
		)
		for _, l := range got {
			if strings.HasPrefix(l, "skynomad_jobs{") {
				t.Errorf("scrape %d: job counts served from a failing source: %q", n+1, l)
			}
		}
	}
}

func TestNoSourceServesTheRest(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil)
	m.Restarted()
	got := scrape(t, m)
	wantLines(t, got, `skynomad_restarts_total 1`)
	for _, l := range got {
		if strings.HasPrefix(l, "skynomad_jobs") || strings.HasPrefix(l, "skynomad_event_loop") {
			t.Errorf("served without a source: %q", l)
		}
	}
}

// documented lists the metric names README.md names.
func documented(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(skynomad_[a-z_]+)`").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	return names
}

func TestNamesArePrefixedAndDocumented(t *testing.T) {
	t.Parallel()
	m := metrics.New(&fakeSource{lag: time.Millisecond})
	observeAll(m)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, mf := range mfs {
		name := mf.GetName()
		switch {
		case strings.HasPrefix(name, "skynomad_"):
			ours = append(ours, name)
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"):
		default:
			t.Errorf("metric %s: want the skynomad_ prefix", name)
		}
	}
	want := documented(t)
	slices.Sort(want)
	if diff := cmp.Diff(want, ours); diff != "" {
		t.Errorf("metrics served vs README.md's table (-documented +served):\n%s", diff)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	m := metrics.New(&fakeSource{lag: time.Millisecond})
	observeAll(m)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
