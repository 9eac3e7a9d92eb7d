// Package enginetest holds what tests of the engine seam share, as
// net/http/httptest does for net/http:
//
//   - Run, the conformance suite: the engine contract of package engine
//     checked case by case (success, exit codes by phase, Stop, idempotent
//     Launch, Resume of an unknown or an ended attempt, Preempt). It runs
//     against engine/local (engine/local/conformance_test.go), engine/nomad
//     on a real Nomad agent (engine/nomad/conformance_test.go) and Fake
//     (fake_test.go here).
//   - Fake, the programmable engine the controller's tests (package jobs)
//     drive, with its scripts (Succeed, Exit, Place, Preempted, NoCap).
//   - Recorder, a sink that keeps events and lets a test wait for them.
//
// Engines may deliver an event more than once; the suite only asserts what
// holds under repetition (the first Exited says how the attempt ended, a
// Running came before it, no Running ever came for a failed setup).
//
// The package is imported by tests only.
package enginetest
