package taskdriver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/plugins/base"
	"github.com/hashicorp/nomad/plugins/drivers"
	"github.com/hashicorp/nomad/plugins/shared/hclspec"

	"github.com/skynomad/skynomad/driver"
)

// Version is reported to Nomad as the plugin's version.
var Version = "0.1.0"

// Metadata sources of the fingerprint (PluginConfig.Metadata).
const (
	MetadataAuto = "auto" // AWS, then GCP, each tried briefly
	MetadataAWS  = "aws"
	MetadataGCP  = "gcp"
	MetadataNone = "none"
)

// DefaultUser runs the tasks when the plugin runs as root and the config
// names no user.
const DefaultUser = "nobody"

// Default metadata endpoints.
const (
	DefaultAWSMetadataEndpoint = "http://169.254.169.254"
	DefaultGCPMetadataEndpoint = "http://metadata.google.internal"
)

func pluginInfo() *base.PluginInfoResponse {
	return &base.PluginInfoResponse{
		Type:              base.PluginTypeDriver,
		PluginApiVersions: []string{drivers.ApiVersion010},
		PluginVersion:     Version,
		Name:              driver.PluginName,
	}
}

// PluginConfig is the client's plugin "skypilot" { config { … } } block.
type PluginConfig struct {
	// User runs the tasks (default: nobody when the client runs as root,
	// else the client's own user).
	User string `codec:"user"`
	// AllowedUsers may be named by a task's `user`; any other is refused,
	// so a jobspec cannot ask for root.
	AllowedUsers []string `codec:"allowed_users"`
	// Metadata says where the offering attributes come from: auto, aws,
	// gcp or none. Attributes set below win over the metadata.
	Metadata            string `codec:"metadata"`
	AWSMetadataEndpoint string `codec:"aws_metadata_endpoint"`
	GCPMetadataEndpoint string `codec:"gcp_metadata_endpoint"`
	Cloud               string `codec:"cloud"`
	Region              string `codec:"region"`
	Zone                string `codec:"zone"`
	InstanceType        string `codec:"instance_type"`
	// Capacity is spot or on-demand.
	Capacity string `codec:"capacity"`
	// NomadAddr is the Nomad HTTP API the runners ask for their peers
	// (a multi-node task's, a job group's): default the plugin's own
	// NOMAD_ADDR, else http://127.0.0.1:4646, this client's agent.
	NomadAddr string `codec:"nomad_addr"`
	// Docker is the docker CLI that runs tasks with an image.
	Docker string `codec:"docker"`
	// What a task's docker options may ask for, as Nomad's docker
	// driver's allow_privileged, allow_caps and volumes.enabled: a
	// privileged container, capabilities beyond these, bind mounts of
	// host paths.
	DockerAllowPrivileged bool     `codec:"docker_allow_privileged"`
	DockerAllowCaps       []string `codec:"docker_allow_caps"`
	DockerVolumes         bool     `codec:"docker_volumes"`
}

// DefaultAllowCaps are the capabilities an image task may add unless the
// plugin config says otherwise: Docker's defaults, as Nomad's docker
// driver allows them.
var DefaultAllowCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

func str(name string) *hclspec.Spec { return hclspec.NewAttr(name, "string", false) }

func withDefault(spec *hclspec.Spec, literal string) *hclspec.Spec {
	return hclspec.NewDefault(spec, hclspec.NewLiteral(literal))
}

var pluginConfigSpec = hclspec.NewObject(map[string]*hclspec.Spec{
	"user":                    str("user"),
	"allowed_users":           hclspec.NewAttr("allowed_users", "list(string)", false),
	"metadata":                withDefault(str("metadata"), `"auto"`),
	"aws_metadata_endpoint":   withDefault(str("aws_metadata_endpoint"), fmt.Sprintf("%q", DefaultAWSMetadataEndpoint)),
	"gcp_metadata_endpoint":   withDefault(str("gcp_metadata_endpoint"), fmt.Sprintf("%q", DefaultGCPMetadataEndpoint)),
	"cloud":                   str("cloud"),
	"region":                  str("region"),
	"zone":                    str("zone"),
	"instance_type":           str("instance_type"),
	"capacity":                str("capacity"),
	"nomad_addr":              str("nomad_addr"),
	"docker":                  withDefault(str("docker"), `"docker"`),
	"docker_allow_privileged": withDefault(hclspec.NewAttr("docker_allow_privileged", "bool", false), "false"),
	"docker_allow_caps": withDefault(hclspec.NewAttr("docker_allow_caps", "list(string)", false),
		`["`+strings.Join(DefaultAllowCaps, `", "`)+`"]`),
	"docker_volumes": withDefault(hclspec.NewAttr("docker_volumes", "bool", false), "false"),
})

func (c *PluginConfig) validate() error {
	if !slices.Contains([]string{MetadataAuto, MetadataAWS, MetadataGCP, MetadataNone}, c.Metadata) {
		return fmt.Errorf("plugin %q: metadata = %q: want auto, aws, gcp or none", driver.PluginName, c.Metadata)
	}
	if c.Capacity != "" && c.Capacity != "spot" && c.Capacity != "on-demand" {
		return fmt.Errorf("plugin %q: capacity = %q: want spot or on-demand", driver.PluginName, c.Capacity)
	}
	return nil
}

// TaskConfig is a task's config block (keys spelled in package driver).
type TaskConfig struct {
	Phase       string            `codec:"phase"`
	SetupFile   string            `codec:"setup_file"`
	RunFile     string            `codec:"run_file"`
	TaskName    string            `codec:"task_name"`
	NumNodes    int               `codec:"num_nodes"`
	NodeRank    int               `codec:"node_rank"`
	NodeIPs     []string          `codec:"node_ips"`
	Workdir     string            `codec:"workdir"`
	Env         map[string]string `codec:"env"`
	ClusterInfo string            `codec:"cluster_info"`
	Image       string            `codec:"image"`
	Grace       string            `codec:"grace"`
	WorkerAlloc string            `codec:"worker_alloc"`
	// Docker run options of a task in an image (docker.go).
	ShmSize     int64               `codec:"shm_size"`
	IPCMode     string              `codec:"ipc_mode"`
	PIDMode     string              `codec:"pid_mode"`
	NetworkMode string              `codec:"network_mode"`
	Privileged  bool                `codec:"privileged"`
	Init        bool                `codec:"init"`
	CapAdd      []string            `codec:"cap_add"`
	CapDrop     []string            `codec:"cap_drop"`
	Devices     []map[string]string `codec:"devices"`
	GPUs        string              `codec:"gpus"`
	Runtime     string              `codec:"runtime"`
	Volumes     []string            `codec:"volumes"`
	Ulimit      map[string]string   `codec:"ulimit"`
	Sysctl      map[string]string   `codec:"sysctl"`
	SecurityOpt []string            `codec:"security_opt"`
}

var taskConfigSpec = hclspec.NewObject(map[string]*hclspec.Spec{
	driver.ConfigPhase:       withDefault(str(driver.ConfigPhase), `"all"`),
	driver.ConfigSetupFile:   str(driver.ConfigSetupFile),
	driver.ConfigRunFile:     str(driver.ConfigRunFile),
	driver.ConfigTaskName:    str(driver.ConfigTaskName),
	driver.ConfigNumNodes:    withDefault(hclspec.NewAttr(driver.ConfigNumNodes, "number", false), "1"),
	driver.ConfigNodeRank:    withDefault(hclspec.NewAttr(driver.ConfigNodeRank, "number", false), "-1"),
	driver.ConfigNodeIPs:     hclspec.NewAttr(driver.ConfigNodeIPs, "list(string)", false),
	driver.ConfigWorkdir:     str(driver.ConfigWorkdir),
	driver.ConfigEnv:         hclspec.NewAttr(driver.ConfigEnv, "map(string)", false),
	driver.ConfigClusterInfo: str(driver.ConfigClusterInfo),
	driver.ConfigImage:       str(driver.ConfigImage),
	driver.ConfigGrace:       str(driver.ConfigGrace),
	driver.ConfigWorkerAlloc: str(driver.ConfigWorkerAlloc),
	driver.ConfigShmSize:     hclspec.NewAttr(driver.ConfigShmSize, "number", false),
	driver.ConfigIPCMode:     str(driver.ConfigIPCMode),
	driver.ConfigPIDMode:     str(driver.ConfigPIDMode),
	driver.ConfigNetworkMode: str(driver.ConfigNetworkMode),
	driver.ConfigPrivileged:  hclspec.NewAttr(driver.ConfigPrivileged, "bool", false),
	driver.ConfigInit:        hclspec.NewAttr(driver.ConfigInit, "bool", false),
	driver.ConfigCapAdd:      hclspec.NewAttr(driver.ConfigCapAdd, "list(string)", false),
	driver.ConfigCapDrop:     hclspec.NewAttr(driver.ConfigCapDrop, "list(string)", false),
	driver.ConfigDevices: hclspec.NewBlockList(driver.ConfigDevices, hclspec.NewObject(map[string]*hclspec.Spec{
		"host_path":          str("host_path"),
		"container_path":     str("container_path"),
		"cgroup_permissions": str("cgroup_permissions"),
	})),
	driver.ConfigGPUs:    str(driver.ConfigGPUs),
	driver.ConfigRuntime: str(driver.ConfigRuntime),
	driver.ConfigVolumes: hclspec.NewAttr(driver.ConfigVolumes, "list(string)", false),
	// Blocks, as in Nomad's docker driver: a jobspec's HCL hands them
	// over as a list of one object, the API as an object.
	driver.ConfigUlimit:      hclspec.NewBlockAttrs(driver.ConfigUlimit, "string", false),
	driver.ConfigSysctl:      hclspec.NewBlockAttrs(driver.ConfigSysctl, "string", false),
	driver.ConfigSecurityOpt: hclspec.NewAttr(driver.ConfigSecurityOpt, "list(string)", false),
})

// validate checks what the spec's types cannot; errors name the key.
func (c *TaskConfig) validate() error {
	switch driver.Phase(c.Phase) {
	case driver.PhaseSetup, driver.PhaseRun, driver.PhaseAll:
	default:
		return fmt.Errorf("config %s = %q: want setup, run or all", driver.ConfigPhase, c.Phase)
	}
	if c.SetupFile == "" && c.RunFile == "" {
		return fmt.Errorf("config: neither %s nor %s is set: nothing to run", driver.ConfigSetupFile, driver.ConfigRunFile)
	}
	if c.NumNodes < 1 {
		return fmt.Errorf("config %s = %d: want 1 or more", driver.ConfigNumNodes, c.NumNodes)
	}
	if c.NodeRank >= c.NumNodes {
		return fmt.Errorf("config %s = %d: want less than %s (%d)", driver.ConfigNodeRank, c.NodeRank, driver.ConfigNumNodes, c.NumNodes)
	}
	if n := len(c.NodeIPs); n != 0 && n != c.NumNodes {
		return fmt.Errorf("config %s lists %d addresses for %d nodes", driver.ConfigNodeIPs, n, c.NumNodes)
	}
	if c.Grace != "" {
		if d, err := time.ParseDuration(c.Grace); err != nil || d < 0 {
			return fmt.Errorf("config %s = %q: want a duration such as 10s", driver.ConfigGrace, c.Grace)
		}
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("config %s: %q is not a variable name", driver.ConfigEnv, k)
		}
	}
	if c.WorkerAlloc != "" && !allocID.MatchString(c.WorkerAlloc) {
		return fmt.Errorf("config %s = %q: not an allocation ID (a UUID such as 5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11)", driver.ConfigWorkerAlloc, c.WorkerAlloc)
	}
	return c.validateDocker()
}

// allocID is the form of a Nomad allocation ID: a lower-case UUID. Nothing
// else may name a directory beside the task's own allocation.
var allocID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// image is the docker image to run in, without SkyPilot's "docker:" prefix.
func (c *TaskConfig) image() string { return strings.TrimPrefix(c.Image, "docker:") }

var capabilities = &drivers.Capabilities{
	SendSignals: true,
	Exec:        false,
	// The runner sees the host as raw_exec does; isolation is the user it
	// runs as, its session and, on cgroup v2 hosts, its cgroup.
	FSIsolation: drivers.FSIsolationNone,
	NetIsolationModes: []drivers.NetIsolationMode{
		drivers.NetIsolationModeHost,
	},
	// Volumes (volume_mount): bound into an image task's container,
	// linked at their path on the host for the others (volumes.go).
	MountConfigs: drivers.MountConfigSupportAll,
}
