// Package interrupt is the spot interruption handler: `skynomad
// interrupt-handler`, run on every spot node as a Nomad system job
// (jobspecs/skynomad-interrupt-handler.nomad.hcl).
//
// It owns the cloud watchers (AWS IMDSv2 spot/instance-action and rebalance
// recommendation, GCP instance/preempted long poll, Azure Scheduled Events
// "Preempt" with acknowledgement), all behind Watcher, and the Handler that
// turns a notice into Nomad actions on its own node: node ineligible, the
// preemption recorded, the tasks told (deadline file + SIGTERM), the
// allocations stopped shortly before the deadline so the controller
// relaunches the work elsewhere. Every step checks the current state first;
// repeated or overlapping notices do no harm.
//
// # Contract with the Nomad engine: the preemption Variable
//
// Before a skynomad allocation gets any signal, the handler creates the
// Nomad Variable skynomad/preemptions/<alloc-id> in the allocation's
// namespace with items node_id, node_name, notice_time, deadline (both
// RFC3339, UTC), cloud (aws|gcp|azure) and action
// (terminate|stop|hibernate|preempt). An allocation that ends while this
// Variable exists was preempted: the engine reports a preemption, never a
// user failure, whatever its exit code. The handler never deletes it. The
// Variable's path and items, the "sky-" job-ID prefix, the sky.job_id meta
// key and the task names are spelled in engine/nomad/naming, which the
// handler and the engine share.
//
// # Contract with the runner: the deadline file
//
// For each skynomad allocation the handler writes
//
//	<alloc-root>/<alloc-id>/alloc/skynomad/preemption-deadline
//
// that is $NOMAD_ALLOC_DIR/skynomad/preemption-deadline inside the
// allocation (the runner exports the path to the task as
// SKYPILOT_PREEMPTION_DEADLINE_FILE), before it sends SIGTERM to the
// "setup" and "run" tasks:
//
//   - Content: one RFC3339 timestamp in UTC with fractional seconds
//     (time.RFC3339Nano), then a newline, e.g. "2026-11-28T12:02:00.5Z\n".
//     Readers trim white space (ParseDeadline, ReadDeadlineFile).
//   - Written to a temporary file in the same directory and renamed, so a
//     reader sees the old content or the new, never a part.
//   - Present means a preemption: the cloud takes the node at that time. A
//     runner that gets SIGTERM and finds the file uses the deadline in place
//     of its own grace period (forward SIGTERM, kill the process group at
//     the deadline or when Nomad kills it, whichever comes first).
//   - It may be rewritten with an earlier deadline (an overlapping notice);
//     never with a later one. It is not removed: the allocation ends.
//   - When the allocation directory is not visible to the handler (wrong
//     --alloc-root), no file is written and a warning is logged; the task
//     still gets SIGTERM and then the stop, so the runner's own grace
//     period applies.
//
// # Order of actions
//
// On a notice that takes the instance away (everything except a rebalance
// recommendation):
//
//  1. mark the node ineligible (skipped if it already is);
//  2. for each allocation of a job whose ID starts with "sky-" and whose
//     job meta has sky.job_id, still desired to run: create the Variable
//     (skipped if it exists), write the deadline file (skipped if it holds
//     the same or an earlier time), send SIGTERM to its running "setup" and
//     "run" tasks (skipped if their events already show a signal). Other
//     allocations are never touched;
//  3. at deadline minus --stop-margin (at once when the notice is shorter)
//     stop those allocations with the alloc stop API, but only once the
//     node is ineligible (otherwise Nomad would place them back on it);
//     then acknowledge the event to the cloud (Azure only);
//  4. until the deadline, sweep again every RetryInterval for allocations
//     placed meanwhile. Failed steps are retried.
//
// The Variable comes before SIGTERM (the brief listed it with the stop) so
// that a task that exits at once on SIGTERM is already recorded as
// preempted when the engine sees it end.
//
// A rebalance recommendation (AWS) does what --on-rebalance says: ignore
// (default; not even polled), ineligible, or drain (system jobs stay).
package interrupt
