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
)
