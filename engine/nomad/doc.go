// Package nomad is the engine that runs attempts on HashiCorp Nomad
// (1.6 and later) through github.com/hashicorp/nomad/api only.
//
// # One job per task, one version per attempt
//
// Each task of a managed job is one Nomad batch job, JobID(ref) =
// sky-<jobid>-<task>, rendered by Config.Render (the translator) with
// restart and reschedule off, so the controller alone counts restarts and
// recoveries. Every attempt re-registers the job with meta sky.attempt set
// to its number, which makes a new job version and new allocs (recorded
// scenario 8); registering the same attempt again is a no-op (8b), and
// Launch does not even try when the job already carries that attempt.
// Event payloads carry neither the job nor its version, so an alloc belongs
// to the attempt when it was created at or after the JobModifyIndex the
// attempt was registered at (Nomad only places allocs of the current
// version). Secrets go to the Nomad Variable nomad/jobs/<jobID>.
//
// # Watching
//
// Start follows the event stream (topics Allocation, Job, Node) from the
// index kept by Config.Cursor. Nomad replays ?index=N inclusively, so
// frames at or below the last handled index are dropped; `{}` heartbeats
// are dropped by the client. After every (re)connect every watched job's
// allocations are listed again, because events that left Nomad's buffer
// are skipped without error (scenario 7). Each job's attempt is re-decided
// on its own goroutine from its allocs' state; events go to Config.Sink in
// order from one goroutine.
//
// # Classification
//
//	all allocs placed                          → Placed (node names)
//	task "setup" / "run" started on all nodes  → SetupStarted / Running
//	an alloc lost, or its node down            → Preempted
//	an alloc stopped for migration (spot       → PreemptionNotice (if the handler left
//	  handler, `nomad alloc stop`, drain)         skynomad/preemptions/<alloc>), Preempted
//	an alloc failed                            → Exited: phase setup if task "setup"
//	                                             failed, else run; the exit code of the
//	                                             task's Terminated event (3, 4); with
//	                                             several nodes setup failures first, then
//	                                             the earliest, once all nodes ended (the
//	                                             others are stopped)
//	every alloc complete, desired run          → Exited run 0
//	job stopped, not by skynomad (6)           → OperatorStopped
//	Stop                                       → Stopped
//	not placed within PlacementTimeout         → NoCapacity (the job is stopped so it
//	                                             is not placed later)
//
// An ending is reported only once every alloc of the attempt is terminal
// and any stop it needs has been done.
//
// # Replacements: never two copies of an attempt
//
// Nomad replaces a lost alloc by itself, and a stopped one too: at once
// and linked (NextAllocation/PreviousAllocation) when a node fits (5a,
// 5c-2), or through a blocked eval that places an unlinked alloc when
// capacity returns (5c); with no node at all a stopped alloc is never
// replaced (5b). skynomad does not adopt these replacements, because each
// attempt must be its own job version and the controller counts a recovery
// per attempt. The rule: as soon as the engine sees an alloc of the attempt
// lost or stopped for migration, it stops the whole job (deregister, no
// purge), which stops a linked replacement before its client starts it
// and cancels the blocked eval so no unlinked one is ever placed; only
// after that call succeeded and all the attempt's allocs are terminal does
// it emit Preempted. The controller then launches attempt N+1, which
// registers a new version of the stopped job. Launch itself never
// registers while an alloc of an older attempt is pending or running: it
// stops the job first if one still wants to run, and waits.
//
// A killed client's task processes keep running until the client returns
// (5c): Nomad then kills them because their alloc is desired stop. Until
// then the lost attempt may still be running on a partitioned node, which
// Nomad 1.6 cannot prevent (disconnect.replace = false needs 1.8).
//
// skynomad records its own stops in the Variable skynomad/stops/<jobID>
// (attempt, reason) so that after a restart a stopped job is still told
// apart from an operator's `nomad job stop`.
package nomad
