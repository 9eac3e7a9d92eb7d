package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/skynomad/skynomad/jobs/api"
)

// scrapeTimeout bounds what a scrape asks the Source.
const scrapeTimeout = 2 * time.Second

// Scrape error sources.
const (
	sourceJobs = "jobs"
	sourceLoop = "loop"
)

// scrapeCollector reads the job counts and the loop lag from the Source at
// each scrape. It owns the scrape error counter, so that a scrape shows
// its own errors.
type scrapeCollector struct {
	src     Source
	timeout time.Duration
	jobs    *prometheus.Desc
	lag     *prometheus.Desc
	errs    *prometheus.CounterVec
}

func newScrapeCollector(src Source) *scrapeCollector {
	c := &scrapeCollector{
		src:     src,
		timeout: scrapeTimeout,
		jobs: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "jobs"),
			"Managed jobs (not pool workers) by status, at scrape time.", []string{"status"}, nil),
		lag: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "event_loop_lag_seconds"),
			"How long the controller loop took to answer at scrape time (the scrape bound if it did not).", nil, nil),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "scrape_errors_total",
			Help: "Scrapes that could not read a source: jobs (the job counts) or loop (the loop lag).",
		}, []string{"source"}),
	}
	c.errs.WithLabelValues(sourceJobs)
	c.errs.WithLabelValues(sourceLoop)
	return c
}

// Describe implements prometheus.Collector.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.lag
	c.errs.Describe(ch)
}

// Collect implements prometheus.Collector: both questions run at once,
// within one timeout.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts := ask(ctx, c.src.JobCounts)
	lag := ask(ctx, c.src.LoopLatency)

	if n, err := counts(); err != nil {
		c.errs.WithLabelValues(sourceJobs).Inc()
	} else {
		for _, s := range api.AllStatuses {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n[s]), string(s))
		}
		for s, v := range n {
			if !known(s) { // a status this build does not list: still counted
				ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(v), string(s))
			}
		}
	}

	d, err := lag()
	switch {
	case err == nil:
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, seconds(d))
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		// The loop did not answer in time: it lags at least that much.
		c.errs.WithLabelValues(sourceLoop).Inc()
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, c.timeout.Seconds())
	default:
		c.errs.WithLabelValues(sourceLoop).Inc()
	}
	c.errs.Collect(ch)
}

// ask calls f on its own goroutine and returns a wait for its answer, or
// for ctx's error once ctx ends first: a Source that ignores ctx does not
// hold the scrape (its call finishes on its own).
func ask[T any](ctx context.Context, f func(context.Context) (T, error)) func() (T, error) {
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := f(ctx)
		done <- answer{v, err}
	}()
	return func() (T, error) {
		select {
		case a := <-done:
			return a.v, a.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

func known(s api.Status) bool {
	for _, k := range api.AllStatuses {
		if s == k {
			return true
		}
	}
	return false
}
