package driver

// The Nomad task-driver plugin that runs this runner (driver/taskdriver) is
// named PluginName, and a task's config block takes these keys. They live
// here, beside the runner's environment contract, so that the renderer
// spells them without linking the plugin SDK.
const (
	PluginName = "skypilot"

	ConfigPhase       = "phase"        // setup, run or all (default all)
	ConfigSetupFile   = "setup_file"   // relative to the task dir
	ConfigRunFile     = "run_file"     // relative to the task dir
	ConfigTaskName    = "task_name"    // prefix of the run phase on rank 0
	ConfigNumNodes    = "num_nodes"    // default 1
	ConfigNodeRank    = "node_rank"    // default NOMAD_ALLOC_INDEX
	ConfigNodeIPs     = "node_ips"     // default: found through Nomad
	ConfigWorkdir     = "workdir"      // default the task dir
	ConfigEnv         = "env"          // more variables for both phases
	ConfigClusterInfo = "cluster_info" // SKYPILOT_CLUSTER_INFO
	ConfigImage       = "image"        // docker:<image> runs in the image
	ConfigGrace       = "grace"        // SIGTERM→SIGKILL of the user's processes
	// ConfigWorkerAlloc names the alloc of the pool worker a job submitted
	// to a pool runs beside, on the same node: the task runs in that
	// alloc's directory (a workdir under the task's own alloc dir is taken
	// from the worker's) with the worker's alloc-local HOME, so what the
	// pool's setup installed is there.
	ConfigWorkerAlloc = "worker_alloc"
)

// Docker run options of a task in an image (config.docker.run_options),
// named as Nomad's docker driver names them.
const (
	ConfigShmSize     = "shm_size" // bytes
	ConfigIPCMode     = "ipc_mode"
	ConfigPIDMode     = "pid_mode"
	ConfigNetworkMode = "network_mode"
	ConfigPrivileged  = "privileged"
	ConfigInit        = "init"
	ConfigCapAdd      = "cap_add"
	ConfigCapDrop     = "cap_drop"
	// ConfigDevices lists {host_path, container_path, cgroup_permissions}.
	ConfigDevices     = "devices"
	ConfigGPUs        = "gpus" // docker run --gpus (the skypilot driver only)
	ConfigRuntime     = "runtime"
	ConfigVolumes     = "volumes" // HOST:CONTAINER[:ro] bind mounts
	ConfigUlimit      = "ulimit"  // name → soft[:hard]
	ConfigSysctl      = "sysctl"
	ConfigSecurityOpt = "security_opt"
)

// WorkerGone starts the task-driver plugin's error when the worker alloc a
// task names (ConfigWorkerAlloc) is not on its node: the worker ended, so
// the task was not started. The Nomad engine reads the task's Driver
// Failure event by it and reports the attempt preempted, not failed.
const WorkerGone = "pool worker gone"
