// Package local is the embedded default engine: it runs each attempt's
// nodes as processes on this host, so managed jobs work on a machine
// without Nomad. It does not pretend to be a cluster scheduler: every node
// sees the whole host, and N nodes are N sandboxes side by side.
//
// Layout under Config.Dir:
//
//	attempts/<job>-<task>-<attempt>/
//	  attempt.json        the Attempt without its secrets
//	  run-gate            created once setup succeeded on every node
//	  stopped, preempted  a stop / fault injection began
//	  event.json          the terminal event, once sent (Resume re-sends it)
//	  mounts/<i>          copies of the file_mounts placed on this host
//	  mounts-ready        every such mount was copied and linked
//	  pruned              the sandbox was removed (Config.KeepAttempts)
//	  node-<rank>/
//	    sky_workdir/      copy of the task's workdir; the task's cwd
//	    setup.sh, run.sh  the task's scripts
//	    output.log        the runner's prefixed output (Logs reads it)
//	    runner.lock       flock held by the runner running the node (its liveness),
//	                      holding "<pid> <start ticks>" of that runner, to signal it
//	    phase, result.json, user.pgid, preemption-deadline  written by the runner
//
// A node's runner counts as started once it holds its lock or has left a
// phase or a result (the runner writes its phase before
// any user code): such a node is never started again. A launch that a
// crash cut short is finished by Resume under the same attempt, since its
// missing nodes ran nothing. Local file_mounts are copied into the attempt
// and linked at their destinations (mounts.go); ended attempts beyond the
// newest Config.KeepAttempts lose their sandboxes but keep their logs
// (prune.go).
//
// Each node's runner (skynomad-runner, or `skynomad driver`: package driver,
// started through Config.RunnerCommand in its own session) runs setup then
// run. A watcher per attempt looks at the nodes' files whenever the runner
// renames one into place (inotify, notify.go) or a runner it started exits,
// and every PollInterval otherwise (a re-attached runner that vanishes),
// and reports SetupStarted, Running and the end: Exited with
// the first user failure (setup failures first) or success, or Preempted
// when a runner vanished or was terminated from outside. Stop and Preempt
// (fault injection) own the end they cause. Every process of an attempt
// carries SKYNOMAD_ATTEMPT_DIR=<attempt dir>, so nothing of it survives
// Stop, even a process that left its process group.
package local
