package driver

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Variables the runner reads. The engines set them; see doc.go for meaning.
const (
	EnvSetupFile        = "SKYNOMAD_SETUP_FILE"
	EnvRunFile          = "SKYNOMAD_RUN_FILE"
	EnvTaskName         = "SKYNOMAD_TASK_NAME"
	EnvNumNodes         = "SKYNOMAD_NUM_NODES"
	EnvNodeRank         = "SKYNOMAD_NODE_RANK"
	EnvNodeIPs          = "SKYNOMAD_NODE_IPS"
	EnvWorkdir          = "SKYNOMAD_WORKDIR"
	EnvResultFile       = "SKYNOMAD_RESULT_FILE"
	EnvGrace            = "SKYNOMAD_GRACE"
	EnvClusterInfo      = "SKYNOMAD_CLUSTER_INFO"
	EnvNoticeFile       = "SKYNOMAD_NOTICE_FILE"
	EnvPhaseFile        = "SKYNOMAD_PHASE_FILE"
	EnvPGIDFile         = "SKYNOMAD_PGID_FILE"
	EnvLockFD           = "SKYNOMAD_LOCK_FD"
	EnvRunGate          = "SKYNOMAD_RUN_GATE"
	EnvDiscoveryTimeout = "SKYNOMAD_DISCOVERY_TIMEOUT"
	// EnvGroup names the job group the node's task belongs to; EnvHosts
	// lists its nodes' names ("IP NAME" lines) when the engine knows them.
	EnvGroup = "SKYNOMAD_GROUP"
	EnvHosts = "SKYNOMAD_HOSTS"

	// Nomad's own task variables the runner falls back on.
	EnvNomadAllocID    = "NOMAD_ALLOC_ID"
	EnvNomadAllocIndex = "NOMAD_ALLOC_INDEX"
	EnvNomadAllocDir   = "NOMAD_ALLOC_DIR"
	EnvNomadAddr       = "NOMAD_ADDR"
	EnvNomadToken      = "NOMAD_TOKEN"
	EnvNomadNamespace  = "NOMAD_NAMESPACE"
	EnvNomadRegion     = "NOMAD_REGION"
)

// Variables the runner sets for the user's scripts.
const (
	EnvSkyNodeRank               = "SKYPILOT_NODE_RANK"
	EnvSkyNodeIPs                = "SKYPILOT_NODE_IPS"
	EnvSkyNumNodes               = "SKYPILOT_NUM_NODES"
	EnvSkySetupNodeRank          = "SKYPILOT_SETUP_NODE_RANK"
	EnvSkySetupNodeIPs           = "SKYPILOT_SETUP_NODE_IPS"
	EnvSkyClusterInfo            = "SKYPILOT_CLUSTER_INFO"
	EnvSkyPreemptionDeadlineFile = "SKYPILOT_PREEMPTION_DEADLINE_FILE"

	// AllocNoticeFile is the notice file of a runner in a Nomad allocation,
	// relative to NOMAD_ALLOC_DIR: the spot handler writes the deadline
	// there (interrupt.DeadlineFileRel).
	AllocNoticeFile = "skynomad/preemption-deadline"
)

// Defaults.
const (
	DefaultGrace            = 10 * time.Second
	DefaultDiscoveryTimeout = 10 * time.Minute
	defaultTaskName         = "task"
)

// Config is what one runner needs to know, read from its environment.
type Config struct {
	// SetupFile and RunFile are bash scripts; a missing or empty file skips
	// the phase.
	SetupFile string
	RunFile   string
	// TaskName prefixes the run phase's output on rank 0.
	TaskName string
	NumNodes int
	NodeRank int
	// NodeIPs lists every node's address in rank order; empty means "find
	// them" (Nomad discovery, else 127.0.0.1 per node).
	NodeIPs []string
	// Workdir is the working directory of both phases ("" = current).
	Workdir string
	// ResultFile receives a Result after each phase ("" = none).
	ResultFile string
	// Grace is the time between SIGTERM and SIGKILL of the user processes.
	Grace time.Duration
	// ClusterInfo is passed through as SKYPILOT_CLUSTER_INFO.
	ClusterInfo string
	// NoticeFile is where a spot handler writes the preemption deadline.
	NoticeFile string
	// PhaseFile, when set, receives "setup" or "run" as each phase starts.
	PhaseFile string
	// PGIDFile, when set, lists the user process groups, one per line.
	PGIDFile string
	// LockFD, when >= 0, is an inherited descriptor holding the engine's
	// liveness lock; the runner keeps it open and out of the user's reach.
	LockFD int
	// RunGate, when set, is a file whose existence lets the run phase
	// start: an engine creates it once setup succeeded on every node, so no
	// node runs before all are set up.
	RunGate string
	// DiscoveryTimeout bounds the wait for peers in Nomad discovery.
	DiscoveryTimeout time.Duration
	// Group is the job group of the node's task ("" outside one); Hosts
	// its nodes' names, found through Peers when empty.
	Group string
	Hosts []HostEntry
}

// ConfigFromEnv reads a Config from an environment ("NAME=value" entries;
// the last of duplicate names wins).
func ConfigFromEnv(env []string) (Config, error) {
	get := func(k string) string { return LookupEnv(env, k) }
	c := Config{
		SetupFile:        get(EnvSetupFile),
		RunFile:          get(EnvRunFile),
		TaskName:         get(EnvTaskName),
		NumNodes:         1,
		Workdir:          get(EnvWorkdir),
		ResultFile:       get(EnvResultFile),
		Grace:            DefaultGrace,
		ClusterInfo:      get(EnvClusterInfo),
		NoticeFile:       get(EnvNoticeFile),
		PhaseFile:        get(EnvPhaseFile),
		PGIDFile:         get(EnvPGIDFile),
		RunGate:          get(EnvRunGate),
		LockFD:           -1,
		DiscoveryTimeout: DefaultDiscoveryTimeout,
		Group:            get(EnvGroup),
	}
	if c.TaskName == "" {
		c.TaskName = defaultTaskName
	}
	var err error
	if c.Hosts, err = ParseHosts(get(EnvHosts)); err != nil {
		return Config{}, err
	}
	if v := get(EnvNumNodes); v != "" {
		if c.NumNodes, err = strconv.Atoi(v); err != nil || c.NumNodes < 1 {
			return Config{}, fmt.Errorf("%s=%q: want a positive integer", EnvNumNodes, v)
		}
	}
	rank := get(EnvNodeRank)
	if rank == "" {
		rank = get(EnvNomadAllocIndex)
	}
	if rank != "" {
		if c.NodeRank, err = strconv.Atoi(rank); err != nil || c.NodeRank < 0 {
			return Config{}, fmt.Errorf("node rank %q: want a non-negative integer", rank)
		}
	}
	if c.NodeRank >= c.NumNodes {
		return Config{}, fmt.Errorf("node rank %d is out of range for %d nodes", c.NodeRank, c.NumNodes)
	}
	c.NodeIPs = splitIPs(get(EnvNodeIPs))
	if len(c.NodeIPs) > 0 && len(c.NodeIPs) != c.NumNodes {
		return Config{}, fmt.Errorf("%s lists %d addresses for %d nodes", EnvNodeIPs, len(c.NodeIPs), c.NumNodes)
	}
	if v := get(EnvGrace); v != "" {
		if c.Grace, err = time.ParseDuration(v); err != nil || c.Grace < 0 {
			return Config{}, fmt.Errorf("%s=%q: want a duration such as 10s", EnvGrace, v)
		}
	}
	if v := get(EnvDiscoveryTimeout); v != "" {
		if c.DiscoveryTimeout, err = time.ParseDuration(v); err != nil || c.DiscoveryTimeout <= 0 {
			return Config{}, fmt.Errorf("%s=%q: want a duration such as 10m", EnvDiscoveryTimeout, v)
		}
	}
	if v := get(EnvLockFD); v != "" {
		if c.LockFD, err = strconv.Atoi(v); err != nil || c.LockFD < 3 {
			return Config{}, fmt.Errorf("%s=%q: want a descriptor number >= 3", EnvLockFD, v)
		}
	}
	if allocDir := get(EnvNomadAllocDir); allocDir != "" {
		if c.ResultFile == "" {
			c.ResultFile = filepath.Join(allocDir, "skynomad", fmt.Sprintf("result-%d.json", c.NodeRank))
		}
		if c.NoticeFile == "" {
			c.NoticeFile = filepath.Join(allocDir, filepath.FromSlash(AllocNoticeFile))
		}
	}
	return c, nil
}

// splitIPs splits a newline- or comma-separated address list.
func splitIPs(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// LookupEnv returns the last value of key in env ("" when unset).
func LookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// setEnv returns env with key set to value (earlier entries removed).
func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return append(out, key+"="+value)
}

// localIPs is the address list of a single-host attempt.
func localIPs(n int) []string {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = "127.0.0.1"
	}
	return ips
}
