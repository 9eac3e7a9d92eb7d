// Package e2e runs the built skynomad binary as a user would: every test
// gets its own home (SKYNOMAD_HOME) and so its own controller, launches
// jobs from testdata/, and asserts on what the commands print, their exit
// codes and `jobs queue -o json`.
//
// Each scenario is written once and runs on every target: the local engine
// always, Nomad when NOMAD_ADDR is set (skipped otherwise). Benchmarks
// (bench_test.go) run only under `go test -bench`.
package e2e
