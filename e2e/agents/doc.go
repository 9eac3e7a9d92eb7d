// Command agents runs a command — the test suite — against real agents it
// starts on loopback and stops afterwards: a Nomad server with two client
// agents that run tasks with the skypilot task-driver plugin (raw_exec
// off) and a Consul dev agent, each on free ports with fresh data dirs in
// one temp dir.
//
//	agents -- go test ./...
//
// It points NOMAD_ADDR and CONSUL_HTTP_ADDR at them and exits with the
// command's exit code. An address already set in the environment wins: then
// that agent is not started. The binaries come from PATH (`make tools` puts
// Nomad 1.6.1 and Consul 1.16.3, built by tools.sh, first on it); without
// them it warns and runs the command alone, or fails when CI=true.
//
// The agents never outlive the run: Ctrl-C or SIGTERM reaches the command
// first, then the agents are stopped; if this process itself is killed,
// the kernel kills the agents (Pdeathsig) and a guard process it started
// kills whatever is left under the temp dir (the plugin's task runners
// outlive their client by design), unmounts what Nomad mounted
// there and removes it. SKYNOMAD_KEEP_AGENTS=1 keeps the temp dir and its
// logs.
package main
