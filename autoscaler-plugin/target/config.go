package target

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/skynomad/skynomad/autoscaler-plugin/bootstrap"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	policyfile "github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// Config keys of the target block (and of the plugin block, for defaults).
const (
	KeyNodeClass    = policyfile.KeyNodeClass
	KeyCloud        = policyfile.KeyCloud
	KeyRegion       = policyfile.KeyRegion
	KeyInstanceType = policyfile.KeyInstanceType
	KeyCapacity     = policyfile.KeyCapacity
	KeyPool         = policyfile.KeyPool
	KeyZones        = "zones" // comma-separated; default: the catalog's zones
	KeyBootTimeout  = "boot_timeout"
	KeyTags         = "tags" // extra tags/labels: k=v,k=v
	// KeyBootstrapTemplate is a file that replaces the default bootstrap
	// (jobspecs/bootstrap/nomad-client.sh.tmpl).
	KeyBootstrapTemplate = "bootstrap_template"
	KeyNomadServers      = "nomad_servers" // comma-separated host:port of the servers' RPC
	KeyDatacenter        = "datacenter"
	KeyNomadVersion      = "nomad_version"
	KeySkynomadURL       = "skynomad_url"
	KeyPluginURL         = "plugin_url" // the skypilot task-driver plugin
)

// DefaultBootTimeout is how long an instance may take to join Nomad before
// it is terminated as broken.
const DefaultBootTimeout = 10 * time.Minute

// policy is one target block's config, read.
type policy struct {
	offering cloud.Offering
	// class is the node class the policy keeps: the offering's, or its
	// pool's (sky-pool-<name>) for a worker pool's policy.
	class       string
	pool        string
	zones       []string
	bootTimeout time.Duration
	tags        map[string]string
	bootstrap   string // rendered
	raw         map[string]string
}

// merged is the plugin's config overridden by the policy's.
func merged(plugin, pol map[string]string) map[string]string {
	m := make(map[string]string, len(plugin)+len(pol))
	for k, v := range plugin {
		m[k] = v
	}
	for k, v := range pol {
		m[k] = v
	}
	return m
}

// readPolicy validates a target block's config; cat supplies the zones of
// an offering the config names none of.
func readPolicy(m map[string]string, cat *catalog.Catalog) (*policy, error) {
	p := &policy{raw: m, bootTimeout: DefaultBootTimeout, tags: map[string]string{}}
	o := &p.offering
	for _, k := range []string{KeyNodeClass, KeyCloud, KeyRegion, KeyInstanceType, KeyCapacity} {
		if m[k] == "" {
			return nil, fmt.Errorf("%s: required (skynomad autoscaler policies writes it)", k)
		}
	}
	o.Cloud, o.Region, o.InstanceType = m[KeyCloud], m[KeyRegion], m[KeyInstanceType]
	switch m[KeyCapacity] {
	case "spot":
		o.Spot = true
	case "on-demand":
	default:
		return nil, fmt.Errorf("%s: %q is neither spot nor on-demand", KeyCapacity, m[KeyCapacity])
	}
	p.class, p.pool = o.NodeClass(), m[KeyPool]
	if p.pool != "" {
		p.class = naming.PoolNodeClass(p.pool)
	}
	switch {
	case p.class == m[KeyNodeClass]:
	case p.pool != "":
		return nil, fmt.Errorf("%s: %q is not the class %q of pool %s", KeyNodeClass, m[KeyNodeClass], p.class, p.pool)
	default:
		return nil, fmt.Errorf("%s: %q is not the offering's class %q", KeyNodeClass, m[KeyNodeClass], p.class)
	}
	if z := m[KeyZones]; z != "" {
		p.zones = cloud.SplitList(z)
	} else {
		p.zones = catalogZones(cat, *o)
	}
	if len(p.zones) == 0 {
		p.zones = firstZones(o.Cloud, o.Region)
	}
	if v := m[KeyBootTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive duration (e.g. 10m)", KeyBootTimeout, v)
		}
		p.bootTimeout = d
	}
	if v := m[KeyTags]; v != "" {
		for _, kv := range cloud.SplitList(v) {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s: %q is not key=value", KeyTags, kv)
			}
			p.tags[k] = val
		}
	}
	p.tags[cloud.TagNodeClass] = p.class
	p.tags[cloud.TagOffering] = o.Cloud + "/" + o.Region + "/" + o.InstanceType + "/" + o.Capacity()
	p.tags[cloud.TagManaged] = "true"

	tmpl := bootstrap.DefaultTemplate
	if path := m[KeyBootstrapTemplate]; path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeyBootstrapTemplate, err)
		}
		tmpl = string(b)
	}
	script, err := bootstrap.Render(tmpl, bootstrap.Values{
		Cloud: o.Cloud, Region: o.Region, InstanceType: o.InstanceType, Capacity: o.Capacity(),
		NodeClass: p.class, Datacenter: m[KeyDatacenter], NomadServers: cloud.SplitList(m[KeyNomadServers]),
		NomadVersion: m[KeyNomadVersion], SkynomadURL: m[KeySkynomadURL], PluginURL: m[KeyPluginURL],
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyBootstrapTemplate, err)
	}
	p.bootstrap = script
	return p, nil
}

// firstZones are the zones every region of the cloud has (a, b, c), for
// an offering the catalog lists no zones of; AWS narrows them to those
// offering the type.
func firstZones(cloudName, region string) []string {
	sep := ""
	if cloudName == "gcp" {
		sep = "-"
	}
	return []string{region + sep + "a", region + sep + "b", region + sep + "c"}
}

// catalogZones are the zones the catalog lists for the offering. AWS
// offerings list zone IDs (use1-az1), which RunInstances does not take:
// none then.
func catalogZones(cat *catalog.Catalog, o cloud.Offering) []string {
	if o.Cloud == catalog.AWS {
		return nil
	}
	if off, ok := cat.Find(o.Cloud, o.Region, o.InstanceType); ok {
		return off.Zones
	}
	return nil
}
