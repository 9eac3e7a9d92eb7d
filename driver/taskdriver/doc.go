// Package taskdriver is the Nomad task-driver plugin "skypilot": Nomad
// itself runs a SkyPilot task's phase through it, with no raw_exec on the
// client. It is built on the plugin SDK of github.com/hashicorp/nomad at
// v1.6.1 exactly (MPL-2.0 at that version) and served by cmd/skypilot,
// installed as <plugin_dir>/skypilot.
//
// A task is one phase (setup, run, or both) of one node of an attempt. The
// plugin starts the runner of package driver — the same code the local
// engine runs — as its own binary re-executed with `runner --phase P`, in a
// session of its own, as the configured user, writing straight into the
// log FIFOs Nomad gave it. It keeps no state of its own: the pid and start
// time of the runner and the runner's result file are the task handle
// Nomad stores, so a client restart (or a plugin crash) re-attaches to the
// same process (RecoverTask) and reads its exit from the result file.
//
// Stopping sends the kill signal to the runner, which forwards SIGTERM to
// the user's process groups, waits its grace, then SIGKILLs them; after
// Nomad's kill_timeout the plugin SIGKILLs the runner and every process
// group it recorded (and the task's cgroup on cgroup v2 hosts).
//
// A job of a worker pool names its worker's allocation (config
// worker_alloc): it runs in that allocation's directory, a sibling of its
// own on the node, with the worker's alloc-local HOME, and is not started
// (driver.WorkerGone) unless a task of the worker's allocation runs under
// the plugin.
//
// A task in an image runs in a container of the Docker CLI; its docker run
// options (config.docker.run_options, under the names of Nomad's docker
// driver) become `docker run` flags, a privileged container, added
// capabilities and host bind mounts only with the plugin config's leave
// (docker.go). A task's Nomad volumes (host or CSI) are bound into the
// container, or linked at their paths for a task on the host (volumes.go).
//
// Fingerprint reports the driver healthy with attributes
// driver.skypilot.{cloud,region,zone,instance_type,spot} from the plugin
// config or, where it leaves them out, from the instance metadata (AWS
// IMDSv2, GCP metadata server).
package taskdriver
