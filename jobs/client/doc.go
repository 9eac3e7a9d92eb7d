// Package client is the Go client of the controller's HTTP API (see
// jobs/server), used by the CLI. It talks to a local controller over its
// unix socket or to a cluster controller over HTTP, and can start the local
// controller on first use (EnsureLocal).
package client
