// Package catalog owns what can be launched and what it costs: AWS and GCP
// instance types with their vCPUs, memory, accelerators and per-region
// on-demand and per-zone spot prices, read from SkyPilot's catalog in its v7
// format (ReadV7), plus the local host as an offering.
//
// The catalog comes embedded in the binary, gzipped (data/, see
// data/README.md for the source and what it holds), and is parsed once, on
// first use (Default). Cache keeps downloaded copies of SkyPilot's current
// files under the skynomad home and refreshes them as SkyPilot does; Load
// reads them, falling back on the embedded copy per cloud.
//
// Its optimizer, Plan, ranks every feasible placement of a task's candidate
// resource requests (any_of / ordered) the way SkyPilot's does, and
// explains in user terms why nothing fits (NoFitError, for
// FAILED_PRECHECKS). Two departures: an exact vCPU count that no size has
// (cpus: 1) rounds up to the sizes above it, and the local host is shared,
// so any request up to its size fits it. Refusing keeps Plan off what an
// engine cannot start. Rows and Requested render the "Considered resources"
// table and the REQUESTED column; List is `skynomad catalog ls`.
//
// The package reads /proc/meminfo (Local), the cache directory and, for
// Cache, SkyPilot's catalog over HTTP; it prints nothing and knows nothing
// of Nomad: node classes are plain strings (Choice.NodeClass).
package catalog
