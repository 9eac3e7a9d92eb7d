// Package e2e runs the built skynomad binary as a user would: every test
// gets its own home (SKYNOMAD_HOME) and so its own controller, launches
// jobs from testdata/, and asserts on what the commands print, their exit
// codes and `jobs queue -o json`.
//
// Each scenario is written once and runs on every target: the local engine
// always, Nomad when NOMAD_ADDR is set (`make test` starts a cluster and
// sets it, see agents/; skipped otherwise, failed in CI), each Nomad test
// in a namespace of its own. Where a target needs its own way to do
// something (preempting an attempt: `jobs preempt` locally, node ineligible
// and alloc stop on Nomad) the harness has a per-target helper.
//
// The spot test (spot_test.go) runs on Nomad only, with two nodes on this
// host and ec2-metadata-mock: a real `skynomad interrupt-handler` moves a
// job off the node that got the notice. Benchmarks (bench_test.go,
// nomad_bench_test.go, spot_test.go) run only under `go test -bench`.
package e2e
