// Package catalog owns what can be launched and what it costs: AWS and GCP
// instance types with their vCPUs, memory, GPUs and per-region on-demand and
// spot prices, embedded from data/offerings.csv (see data/README.md for the
// source and date), plus the local host as an offering. Its optimizer, Plan,
// ranks every feasible placement of a task's candidate resource requests
// (any_of / ordered) the way SkyPilot's does, and explains in user terms why
// nothing fits (NoFitError, for FAILED_PRECHECKS). Two departures: an exact
// vCPU count that no size has (cpus: 1) rounds up to the sizes above it, and
// the local host is shared, so any request up to its size fits it. Rows and Requested render
// the "Considered resources" table and the REQUESTED column.
//
// The package does no I/O beyond reading /proc/meminfo in Local, and knows
// nothing of Nomad: node classes are plain strings (Choice.NodeClass).
// Refreshing prices from the clouds' APIs is left to a future command built
// on Source, WriteCSV and ReadCSV.
package catalog
