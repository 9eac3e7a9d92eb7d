// Package render is the Nomad side of an attempt: it turns one
// engine.Attempt into the Nomad job the Nomad engine registers (RenderJob),
// prints jobs as HCL jobspecs and as API JSON (JobHCL, JobJSON), and plans
// and renders a DAG's first attempts as `skynomad translate` shows them
// (Preview, WriteJobspecs, WriteJobspecFiles).
//
// Both the controller (through engine/nomad) and `skynomad translate` get
// their attempt from engine.NewAttempt and render it here, so the jobspec
// translate prints is the job the controller registers, byte for byte
// (jobs.TestLaunchRendersWhatTranslateShows). The names the job shares
// with the engine and the spot handler come from engine/nomad/naming; the
// runner's SKYNOMAD_* variables from package driver.
//
// Golden files: testdata/ holds hand-built attempts covering each rendering
// rule; ../../../jobspecs/examples holds the translated examples. Both are
// rewritten with `go test ./engine/nomad/render -update`.
package render
