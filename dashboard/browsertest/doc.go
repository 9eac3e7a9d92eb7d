// Package browsertest holds the dashboard's tests in headless Chromium: what
// a user sees and does in the pages, end to end. Each test runs a real
// jobs.Controller on a real SQLite store with the real catalog planner and
// the real API server (jobs/server) serving the dashboard; only what runs
// the attempts is the fake engine (engine/enginetest.Fake), scripted so that
// the controller holds a job in every one of the twelve statuses. Chromium
// is driven through the DevTools protocol (chromedp): it must be installed
// (apt-get install chromium, or SKYNOMAD_CHROMIUM); without it the tests
// skip, and fail in CI (internal/realagent).
//
// The package has no code of its own outside its tests. The screenshots
// it takes go to $SKYNOMAD_ARTIFACTS/dashboard, or to artifacts/dashboard at
// the repository's root.
package browsertest
