// Package cli is the skynomad command line: one file per command, each an
// Options struct with Complete → Validate → Run. Commands hold no logic of
// their own: they call translator, catalog, jobs/client, daemon, driver,
// interrupt. All output goes through ui.UI.
//
// Exit codes are in exit.go (and docs/cli.md); the way to the controller,
// starting the local one on first use, is in session.go.
package cli
