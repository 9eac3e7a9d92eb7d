// Package nomad is the engine that runs attempts on HashiCorp Nomad
// (1.6 and later) through github.com/hashicorp/nomad/api only.
//
// # One job per task, one version per attempt
//
// Each task of a managed job is one Nomad batch job, JobID(ref) =
// sky-<jobid>-<task>, rendered by render.RenderJob (engine/nomad/render,
// configured by Config.Render) with restart and reschedule off, so the controller alone counts restarts and
// recoveries. Every attempt the controller launches re-registers the job
// with meta sky.attempt set to its number, which makes a new job version
// and new allocs (recorded scenario 8); registering the same attempt again
// is a no-op (8b), and Launch does not even try when the job already
// carries that attempt. (An attempt the engine adopted from Nomad runs in
// the version of the attempt it replaced: see Replacements.)
// Event payloads carry neither the job nor its version, so an alloc belongs
// to the attempt when it was created at or after the JobModifyIndex the
// attempt was registered at (Nomad only places allocs of the current
// version). Secrets, and the credentials the runner needs to fetch the
// job's files (engine.Attempt.FilesEnv), go to the Nomad Variable
// nomad/jobs/<jobID>.
//
// Every name the engine shares with the renderer and the spot handler (job
// IDs, task names, meta keys, Variable paths) is spelled once, in
// engine/nomad/naming. Besides engine.Engine the engine is an
// engine.Queuer (Nomad queues what it cannot place yet).
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
//	an alloc lost, or its node down            → Preempted (Replacement: N+1 when
//	                                             Nomad's replacement is adopted)
//	an alloc stopped for migration (spot       → PreemptionNotice (if the handler left
//	  handler, `nomad alloc stop`, drain)         skynomad/preemptions/<alloc>), Preempted
//	an alloc failed or completed while the     → PreemptionNotice, Preempted (the handler's
//	  handler's skynomad/preemptions/<alloc>      SIGTERM ended it: whatever the exit code,
//	  exists                                      never Exited)
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
// # Replacements: Nomad's is the recovery, or none is
//
// Nomad replaces a lost alloc by itself, and a stopped one too: at once
// and linked (NextAllocation/PreviousAllocation) when a node fits (5a,
// 5c-2), or through a blocked eval that places an unlinked alloc when
// capacity returns (5c); with no node at all a stopped alloc is never
// replaced (5b). The rule, when an alloc of attempt N is lost or stopped
// for migration:
//
//   - Single-node attempt, and Nomad placed a linked replacement on a node
//     that it still wants running: the engine adopts it as attempt N+1.
//     Once the preempted alloc is terminal it records the adoption in the
//     Variable skynomad/attempts/<jobID> (registered = the version's
//     sky.attempt, attempt = N+1, alloc = the replacement, plus the
//     history), then emits PreemptionNotice (if the spot handler left one)
//     and Preempted{Ref N, Replacement: N+1}, and from then on reports the
//     replacement's events as attempt N+1. The job is not re-registered:
//     attempt N+1 runs in attempt N's version (same node class), and
//     Launch(N+1) is a no-op. Resume(N+1) finds the alloc through the
//     Variable; Resume(N) emits the missed Preempted{Replacement} again.
//     The replacement of a replacement is adopted the same way (N+2).
//   - No linked replacement, or it is not placed (the blocked-eval cases
//     5b, 5c), or it is already lost or stopped: the engine stops the whole
//     job (deregister, no purge), which cancels the blocked eval so no
//     unlinked alloc is ever placed, and emits Preempted without a
//     Replacement once every alloc of the attempt is terminal. The
//     controller launches attempt N+1, a new job version.
//   - Multi-node attempt: never adopted (one new node cannot rejoin peers
//     that started together): the whole job is stopped as above.
//
// Never two copies: Nomad's client holds a linked replacement, without
// even receiving its tasks, until the server sees the alloc it replaces
// terminal (the client's "upstream allocs" wait; observed on 1.6.1: after
// `nomad alloc stop` the replacement on the same node started 0.2 s after
// the stopped alloc was killed at its kill timeout). A stopped alloc is
// therefore gone before its replacement starts. A lost alloc is terminal at
// once, though: the task processes of a killed or partitioned client run on
// until that client returns and kills them because their alloc is desired
// stop (5c, 5c-2). Until then a lost attempt may still run beside its
// replacement or beside the next attempt; Nomad 1.6 cannot prevent that
// (disconnect.replace = false needs 1.8). The engine reports an ending, with
// or without a replacement, only once the attempt's allocs are terminal,
// and Launch never registers while an alloc of an older attempt is pending
// or running: it stops the job first if one still wants to run, and waits.
//
// # Worker pools
//
// A pool's worker is an attempt like any other (the controller's internal
// job, Nomad job sky-<id>-<task>, named <pool>-worker, meta sky.pool and
// sky.pool_worker = true): setup once, then engine.WorkerRun holding the
// node. It is placed on the pool's node class sky-pool-<pool>, whose nodes
// the pool's autoscaler policy keeps at the pool's size, and reserves the
// static port naming.PoolWorkerPort, so Nomad never puts two workers on one
// node. A lost worker is recovered like any attempt: Nomad's replacement is
// adopted, or the controller launches a new attempt. While unplaced it
// gives up on a cloud's refusal recorded for the pool's class.
//
// A job submitted to a pool (Attempt.Worker) is placed beside the worker
// attempt it names: Launch reads that attempt's alloc from Nomad and
// registers the job only while it runs its run task (setup done), pinned
// to its node (${node.unique.id}) and naming the alloc in the run task's
// config (worker_alloc), so the task driver runs it in the worker's
// workdir with the worker's HOME. A worker not there yet is an error to
// retry; a worker attempt gone for good (job stopped or purged, a newer
// attempt, its alloc ended or stopping) an error wrapping
// engine.ErrNotFound. The job's alloc lost with its node has no linked
// replacement (Nomad cannot place it anywhere but the dead node), so the
// engine stops the job and reports Preempted without one; the task
// driver's refusal to start beside a worker that left its node
// (driver.WorkerGone) is a preemption too, never the job's failure.
//
// skynomad records its own stops in the Variable skynomad/stops/<jobID>
// (attempt, reason) so that after a restart a stopped job is still told
// apart from an operator's `nomad job stop`.
package nomad
