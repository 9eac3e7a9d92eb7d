// Package daemon is the composition root of the controller process
// (`skynomad controller`): it takes the home's controller lock, opens the
// store, builds the engine (this host, or Nomad) and its planner, starts the
// jobs controller and serves its HTTP API until the context ends. Stopping
// it leaves running attempts alone; the next controller re-attaches to them.
package daemon
