// Package driver is the task runner that executes one node of one attempt,
// the same on Nomad and on the local engine: on Nomad the task-driver
// plugin "skypilot" (driver/taskdriver) starts it for each task (or
// `skynomad driver --phase setup|run|all` under raw_exec), and the local
// engine runs it as skynomad-runner. It runs the task's setup and run scripts under /bin/bash,
// each in its own process group, with the node's SKYPILOT_* variables;
// prefixes every output line ("(setup pid=N) ", "(<task>, pid=N) " on rank
// 0, "(workerR, rank=R, pid=N) " elsewhere); records after each phase a
// Result (phase, exit code, signal, terminated) so an engine tells a failed
// setup from a failed run; and on SIGTERM/SIGINT forwards SIGTERM to the
// task's process groups, waits the grace period (or until the deadline in
// the preemption notice file), then SIGKILLs them and exits 143.
//
// # Environment contract
//
// Read by the runner (set by the engines):
//
//	SKYNOMAD_SETUP_FILE     setup script; missing or empty: phase skipped
//	SKYNOMAD_RUN_FILE       run script; missing or empty: phase skipped
//	SKYNOMAD_TASK_NAME      run-phase prefix on rank 0 (default "task")
//	SKYNOMAD_NUM_NODES      default 1
//	SKYNOMAD_NODE_RANK      else NOMAD_ALLOC_INDEX, else 0
//	SKYNOMAD_NODE_IPS       newline- or comma-separated, rank order; empty:
//	                        Nomad discovery if NOMAD_ALLOC_ID and NOMAD_ADDR
//	                        are set (NOMAD_TOKEN, NOMAD_NAMESPACE,
//	                        NOMAD_REGION honoured), else 127.0.0.1 per node
//	SKYNOMAD_DISCOVERY_TIMEOUT  bound on Nomad discovery (default 10m)
//	SKYNOMAD_WORKDIR        working directory of both phases (default: cwd)
//	SKYNOMAD_RESULT_FILE    Result JSON after each phase (default
//	                        $NOMAD_ALLOC_DIR/skynomad/result-<rank>.json)
//	SKYNOMAD_GRACE          SIGTERM→SIGKILL grace, Go duration (default 10s)
//	SKYNOMAD_CLUSTER_INFO   passed through as SKYPILOT_CLUSTER_INFO
//	SKYNOMAD_NOTICE_FILE    preemption deadline (RFC3339) written by a spot
//	                        handler (default $NOMAD_ALLOC_DIR/skynomad/
//	                        preemption-deadline); replaces the grace
//	SKYNOMAD_PHASE_FILE     optional: receives "setup"/"run" as each starts
//	SKYNOMAD_PGID_FILE      optional: the task's process groups, one a line
//	SKYNOMAD_RUN_GATE       optional: run starts only once this file exists
//	                        (an engine's barrier: setup done on every node)
//	SKYNOMAD_LOCK_FD        optional: inherited descriptor holding the local
//	                        engine's liveness lock; kept away from the task
//	SKYNOMAD_FILES          optional: the job's files (bucket/node.Files,
//	                        JSON), fetched before setup and mounted for the
//	                        runner's life; once fetched (a mark beside the
//	                        workdir), a later runner of the node only mounts.
//	                        A fetch that fails is a failed setup (exit 1)
//
// Set for the task (everything else passes through unchanged):
// SKYPILOT_NODE_RANK, SKYPILOT_NODE_IPS (newline-separated),
// SKYPILOT_NUM_NODES, SKYPILOT_SETUP_NODE_RANK and SKYPILOT_SETUP_NODE_IPS
// (setup phase only), SKYPILOT_CLUSTER_INFO (if given) and
// SKYPILOT_PREEMPTION_DEADLINE_FILE (the notice file, if any).
//
// Exit code: the failing phase's code, else the run's; 128+signal when a
// signal killed bash; 143 when the runner was terminated; 2 for a bad flag
// or environment.
package driver
