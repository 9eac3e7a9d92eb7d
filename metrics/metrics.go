package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// Source answers what is read at each scrape.
type Source interface {
	// JobCounts counts managed jobs (not pool workers) by status.
	JobCounts(ctx context.Context) (map[api.Status]int, error)
	// LoopLatency is how long the controller loop takes to answer now.
	LoopLatency(ctx context.Context) (time.Duration, error)
}

// Metrics is the controller's metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry

	launches        *prometheus.CounterVec
	recoveries      *prometheus.CounterVec
	restarts        prometheus.Counter
	capacityErrors  *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	timeToRunning   prometheus.Histogram
	queueWait       prometheus.Histogram
	sqlite          *prometheus.HistogramVec
	scrape          *scrapeCollector // nil without a Source
}

var _ jobs.Observer = (*Metrics)(nil)

const namespace = "skynomad"

// Recovery causes, as jobs.Observer.Recovered names them.
var recoveryCauses = []string{"spot_interruption", "node_lost", "replaced", "preempted"}

// Buckets, in seconds.
var (
	// Attempts last from seconds (a failing command) to days (training).
	attemptBuckets = []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600}
	// Placement, image pull and setup: half a second to an hour.
	runningBuckets = []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// Waiting for a free worker or for capacity: 0.1 s to 6 h.
	queueBuckets = []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600}
	// One SQLite transaction or query: 50 µs to 1 s.
	sqliteBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

// New returns the metrics in a registry of their own, with the Go runtime
// and process collectors. src is read at each scrape; nil leaves out the
// job counts and the loop lag.
func New(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		launches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "attempt_launches_total",
			Help: "Attempts launched, pool workers' included, by where they run.",
		}, []string{"cloud", "region", "capacity"}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "recoveries_total",
			Help: "Recoveries of tasks whose attempt was lost, by cause.",
		}, []string{"cause"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "restarts_total",
			Help: "Restarts of tasks after a failure (max_restarts_on_errors).",
		}),
		capacityErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "capacity_errors_total",
			Help: "Attempts that ended without capacity, by where they were tried.",
		}, []string{"cloud", "region"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "attempt_duration_seconds",
			Help:    "Time from an attempt's launch to its end, by outcome.",
			Buckets: attemptBuckets,
		}, []string{"outcome"}),
		timeToRunning: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "time_to_running_seconds",
			Help:    "Time from an attempt's launch to its task becoming RUNNING.",
			Buckets: runningBuckets,
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "queue_wait_seconds",
			Help:    "Time from a task's submission to its first launch.",
			Buckets: queueBuckets,
		}),
		sqlite: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "sqlite_seconds",
			Help:    "Time of the store's SQLite operations, by operation.",
			Buckets: sqliteBuckets,
		}, []string{"op"}),
	}
	for _, c := range recoveryCauses {
		m.recoveries.WithLabelValues(c)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.launches, m.recoveries, m.restarts, m.capacityErrors,
		m.attemptDuration, m.timeToRunning, m.queueWait, m.sqlite,
	)
	if src != nil {
		m.scrape = newScrapeCollector(src)
		m.reg.MustRegister(m.scrape)
	}
	return m
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' exposition formats. It does
// not authenticate: the caller mounts it behind its own auth.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		// Each scrape reads the store and asks the loop: cap how many run.
		MaxRequestsInFlight: 4,
	})
}

// ObserveStore records one store operation; pass it to
// store.Store.SetObserver.
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	m.sqlite.WithLabelValues(op).Observe(seconds(d))
}

// AttemptLaunched implements jobs.Observer.
func (m *Metrics) AttemptLaunched(ch catalog.Choice) {
	cloud, region := where(ch)
	m.launches.WithLabelValues(cloud, region, ch.Capacity()).Inc()
}

// QueueWait implements jobs.Observer.
func (m *Metrics) QueueWait(d time.Duration) { m.queueWait.Observe(seconds(d)) }

// TimeToRunning implements jobs.Observer.
func (m *Metrics) TimeToRunning(d time.Duration) { m.timeToRunning.Observe(seconds(d)) }

// AttemptEnded implements jobs.Observer.
func (m *Metrics) AttemptEnded(ch catalog.Choice, outcome string, d time.Duration) {
	m.attemptDuration.WithLabelValues(outcome).Observe(seconds(d))
	if outcome == store.OutcomeNoCapacity {
		m.capacityErrors.WithLabelValues(where(ch)).Inc()
	}
}

// Recovered implements jobs.Observer.
func (m *Metrics) Recovered(cause string) { m.recoveries.WithLabelValues(cause).Inc() }

// Restarted implements jobs.Observer.
func (m *Metrics) Restarted() { m.restarts.Inc() }

// where names a choice's cloud and region as labels: the local engine's
// host (no cloud, or the local offering) is cloud "local", region "".
func where(ch catalog.Choice) (cloud, region string) {
	o := ch.Offering
	if o.Cloud == "" || o.Cloud == catalog.LocalCloud {
		return catalog.LocalCloud, ""
	}
	return o.Cloud, o.Region
}

// seconds is d in seconds, never below 0 (a clock step back).
func seconds(d time.Duration) float64 { return max(d, 0).Seconds() }
