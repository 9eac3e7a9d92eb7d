package interrupt

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// DefaultAllocRoot is <data_dir>/alloc for a Nomad client whose data_dir
// is /opt/nomad/data.
const DefaultAllocRoot = "/opt/nomad/data/alloc"

// CloudAuto picks the cloud from the node's fingerprinted attributes.
const CloudAuto Cloud = "auto"

// Config is the `skynomad interrupt-handler` command line. The Nomad
// address and token come from the usual NOMAD_* environment variables.
type Config struct {
	Cloud         Cloud
	IMDSEndpoint  string // AWS
	GCPEndpoint   string
	AzureEndpoint string
	PollInterval  time.Duration
	AllocRoot     string
	// NodeID is this node; when empty it is read from the handler's own
	// allocation (AllocID).
	NodeID string
	// AllocID is the handler's own allocation (NOMAD_ALLOC_ID).
	AllocID     string
	OnRebalance RebalancePolicy
	StopMargin  time.Duration
}

// ParseFlags reads the command line. getenv supplies NOMAD_ALLOC_ID and
// NOMAD_ALLOC_DIR (the default --alloc-root under raw_exec).
// Usage errors and -help are reported on output.
func ParseFlags(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	c := Config{Cloud: CloudAuto, OnRebalance: RebalanceIgnore}
	fs := flag.NewFlagSet("interrupt-handler", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Func("cloud", "auto, aws, gcp or azure (auto: from the node's platform.* attributes)", func(s string) error {
		c.Cloud = Cloud(strings.ToLower(s))
		return nil
	})
	fs.StringVar(&c.IMDSEndpoint, "imds-endpoint", DefaultAWSEndpoint, "AWS instance metadata base URL")
	fs.StringVar(&c.GCPEndpoint, "gcp-endpoint", DefaultGCPEndpoint, "GCE metadata server base URL")
	fs.StringVar(&c.AzureEndpoint, "azure-endpoint", DefaultAzureEndpoint, "Azure instance metadata base URL")
	fs.DurationVar(&c.PollInterval, "poll-interval", DefaultPollInterval, "how often AWS and Azure metadata are polled")
	fs.StringVar(&c.AllocRoot, "alloc-root", DefaultAllocRoot,
		"the Nomad client's allocation directory (<data_dir>/alloc; default: the root of $NOMAD_ALLOC_DIR when run by raw_exec, else "+DefaultAllocRoot+")")
	fs.StringVar(&c.NodeID, "node-id", "", "this Nomad node's ID (default: the node of $NOMAD_ALLOC_ID)")
	fs.Func("on-rebalance", "what an AWS rebalance recommendation does: ignore, ineligible or drain (default ignore)", func(s string) error {
		c.OnRebalance = RebalancePolicy(strings.ToLower(s))
		return nil
	})
	fs.DurationVar(&c.StopMargin, "stop-margin", DefaultStopMargin, "stop allocations this long before the deadline")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.AllocID = getenv("NOMAD_ALLOC_ID")
	rootSet := false
	fs.Visit(func(f *flag.Flag) { rootSet = rootSet || f.Name == "alloc-root" })
	if root, ok := AllocRootOf(getenv("NOMAD_ALLOC_DIR"), c.AllocID); ok && !rootSet {
		c.AllocRoot = root
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// AllocRootOf derives the Nomad client's allocation root from a task's
// own NOMAD_ALLOC_DIR, which raw_exec sets to the host path
// <alloc-root>/<NOMAD_ALLOC_ID>/alloc. Drivers that isolate the task
// (exec, docker) set /alloc instead: then there is no root to derive.
func AllocRootOf(allocDir, allocID string) (string, bool) {
	if allocDir == "" || allocID == "" || !filepath.IsAbs(allocDir) {
		return "", false
	}
	d := filepath.Clean(allocDir)
	if filepath.Base(d) != "alloc" || filepath.Base(filepath.Dir(d)) != allocID {
		return "", false
	}
	return filepath.Dir(filepath.Dir(d)), true
}

// Validate checks the config.
func (c *Config) Validate() error {
	switch c.Cloud {
	case CloudAuto, CloudAWS, CloudGCP, CloudAzure:
	default:
		return fmt.Errorf("--cloud %q: want auto, aws, gcp or azure", c.Cloud)
	}
	switch c.OnRebalance {
	case RebalanceIgnore, RebalanceIneligible, RebalanceDrain:
	default:
		return fmt.Errorf("--on-rebalance %q: want ignore, ineligible or drain", c.OnRebalance)
	}
	if c.PollInterval <= 0 {
		return fmt.Errorf("--poll-interval %s: must be positive", c.PollInterval)
	}
	if c.StopMargin < 0 {
		return fmt.Errorf("--stop-margin %s: must not be negative", c.StopMargin)
	}
	if c.NodeID == "" && c.AllocID == "" {
		return errors.New("no node: pass --node-id or run as a Nomad task (NOMAD_ALLOC_ID)")
	}
	return nil
}

// DetectCloud tells the cloud from a node's fingerprinted attributes
// (platform.aws.*, platform.gce.*, platform.azure.*, with or without the
// unique. prefix).
func DetectCloud(attrs map[string]string) (Cloud, bool) {
	for k := range attrs {
		k = strings.TrimPrefix(k, "unique.")
		switch {
		case strings.HasPrefix(k, "platform.aws."):
			return CloudAWS, true
		case strings.HasPrefix(k, "platform.gce."):
			return CloudGCP, true
		case strings.HasPrefix(k, "platform.azure."):
			return CloudAzure, true
		}
	}
	return "", false
}

// azureVMNameAttr is the node attribute Nomad's Azure fingerprint sets to
// the VM name.
const azureVMNameAttr = "unique.platform.azure.name"

// Setup resolves the node and the cloud and returns a handler ready to Run.
func Setup(ctx context.Context, c Config, client *api.Client, logger *slog.Logger) (*Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	nomad := apiActions{c: client}
	nodeID := c.NodeID
	if nodeID == "" {
		alloc, _, err := client.Allocations().Info(c.AllocID, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("find this node from allocation %s: %w", c.AllocID, err)
		}
		nodeID = alloc.NodeID
	}
	node, err := nomad.Node(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	cloud := c.Cloud
	if cloud == CloudAuto {
		var ok bool
		if cloud, ok = DetectCloud(node.Attributes); !ok {
			return nil, fmt.Errorf("node %s (%s) has no platform.aws/gce/azure attributes: pass --cloud", node.Name, nodeID)
		}
	}
	wo := WatcherOptions{PollInterval: c.PollInterval, Rebalance: c.OnRebalance != RebalanceIgnore}
	switch cloud {
	case CloudAWS:
		wo.Endpoint = c.IMDSEndpoint
	case CloudGCP:
		wo.Endpoint = c.GCPEndpoint
	case CloudAzure:
		wo.Endpoint = c.AzureEndpoint
		wo.VMName = node.Attributes[azureVMNameAttr]
	}
	w, err := NewWatcher(cloud, wo)
	if err != nil {
		return nil, err
	}
	logger.Info("interrupt handler starting", "node", node.Name, "node_id", nodeID, "cloud", cloud,
		"poll_interval", c.PollInterval, "stop_margin", c.StopMargin, "on_rebalance", c.OnRebalance, "alloc_root", c.AllocRoot)
	return newHandler(HandlerConfig{
		NodeID:      nodeID,
		NodeName:    node.Name,
		AllocRoot:   c.AllocRoot,
		StopMargin:  c.StopMargin,
		OnRebalance: c.OnRebalance,
		Logger:      logger,
	}, w, nomad)
}

// Main runs `skynomad interrupt-handler` with args (flags only) until ctx
// ends. It logs to stderr and returns the process exit code: 0 when ctx
// ended, 2 for a usage error, 1 when it could not start.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	c, err := ParseFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		logger.Error("nomad client", "err", err)
		return 1
	}
	h, err := Setup(ctx, c, client, logger)
	if err != nil {
		logger.Error("interrupt handler cannot start", "err", err)
		return 1
	}
	if err := h.Run(ctx); err != nil {
		logger.Error("interrupt handler stopped", "err", err)
		return 1
	}
	return 0
}
