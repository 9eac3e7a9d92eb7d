// Package metrics owns the controller's Prometheus metrics: their names,
// labels and buckets, the registry they live in (its own, never the global
// one) and the /metrics handler that serves it.
//
// Metrics implements jobs.Observer, so the controller tells it of
// launches, recoveries, restarts and attempt ends as it saves them; the
// store reports its query times through ObserveStore; the job counts and
// the controller loop's lag are read from a Source at each scrape, bounded
// to two seconds. README.md lists every metric.
package metrics
