// Package jobs is the managed-jobs controller: it owns managed job and task
// records, the twelve statuses and their transitions (transitions.go), launch
// concurrency and priority, recovery strategies (EAGER_NEXT_REGION,
// FAILOVER), restart counting, pipelines, job ranks, cancellation and the
// per-job controller log.
//
// It drives an engine.Engine through the engine seam and never imports a
// concrete engine. An engine may recover a preemption by itself (Nomad
// placed a replacement): its Preempted event then names the replacement
// (engine.Event.Replacement), which the controller records as the next
// attempt, counted as a recovery, without launching anything. State lives
// in jobs/store (SQLite); a restarted controller resumes every non-terminal
// job from it and re-attaches to its attempts without launching any attempt
// twice. The attempt an engine gets is built by engine.NewAttempt, the same
// builder `skynomad translate` uses, so both render the same Nomad job.
//
// All decisions are made on one goroutine (the loop): engine events, the
// results of engine calls, timers and API requests that change state are
// handled there one at a time, so handlers need no locks and are easy to
// make idempotent. Engine calls run on their own goroutines and report back
// to the loop. Reads never wait for the loop: `jobs queue` is answered from
// an in-memory view the loop keeps current (view.go), logs and single jobs
// from the store.
//
// The loop's work, by file: submit.go (new jobs, prechecks, plans),
// launch.go (advance: the next step of a job; launching an attempt, launch
// failures, no-capacity timers, backoff), handle.go (engine events: started,
// exited, preempted, replaced, no capacity), recovery.go (where the next
// attempt goes), resume.go (re-attaching after a restart), finish.go
// (stopping attempts, cancelling and ending jobs), pools.go (worker pools:
// workers are jobs of kind worker; pool jobs wait in their pool's queue
// for a free worker and run beside it), events.go (the queue engines
// report to). The controller's tests drive enginetest.Fake
// (engine/enginetest).
package jobs
