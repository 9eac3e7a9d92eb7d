// Package realagent decides what a test does when a real agent it needs
// (Nomad at NOMAD_ADDR, Consul at CONSUL_HTTP_ADDR) or a real tool is not
// there: in CI (CI=true), where `make test` starts the agents, the test
// fails; anywhere else it skips and says why.
package realagent

import (
	"os"
	"testing"
)

// Required reports whether this run must use the real agents: CI sets
// CI=true, and there `make tools` builds them and `make test` starts them.
func Required() bool { return os.Getenv("CI") == "true" }

// Marker starts the line Using logs; e2e/testreport counts the tests that
// logged it as the ones that ran against a real agent.
const Marker = "real agent: "

// Using records in tb's log that it runs against the real agent at addr.
func Using(tb testing.TB, env, addr string) {
	tb.Helper()
	tb.Logf("%s%s=%s", Marker, env, addr)
}

// Unavailable ends tb because what it needs is not there: tb fails when
// Required, and skips otherwise.
func Unavailable(tb testing.TB, why string) {
	tb.Helper()
	if Required() {
		tb.Fatal(why + " (CI=true: real-agent tests must run, not skip; `make tools` builds the agents and `make test` starts them)")
		return
	}
	tb.Skip(why)
}

// Addr returns the address in the environment variable env, such as
// NOMAD_ADDR, or ends tb with Unavailable when it is unset; needs says what
// the test needs the agent for.
func Addr(tb testing.TB, env, needs string) string {
	tb.Helper()
	addr := os.Getenv(env)
	if addr == "" {
		Unavailable(tb, env+" not set: "+needs)
		return ""
	}
	Using(tb, env, addr)
	return addr
}
