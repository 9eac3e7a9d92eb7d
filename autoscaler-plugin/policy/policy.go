// Package policy writes the Nomad Autoscaler policies of the offerings
// skynomad provisions: one file per offering (cloud, region, instance
// type, capacity), min 0, checked against skynomad-apm's demand for its
// node class with the pass-through strategy, and scaled by
// skynomad-target. A worker pool has a policy of its own (pool.go): a
// fixed number of nodes of the pool's node class, one per worker.
package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/catalog"
)

// Keys of a policy's target block that name its offering; skynomad-target
// reads them.
const (
	KeyNodeClass    = "node_class"
	KeyCloud        = "cloud"
	KeyRegion       = "region"
	KeyInstanceType = "instance_type"
	KeyCapacity     = "capacity" // spot or on-demand
	// KeyPool names the worker pool of a pool's policy; its node class is
	// the pool's, sky-pool-<name>.
	KeyPool = "pool"
)

// QueryPrefix starts a policy's check query, "demand/<node class>";
// skynomad-apm answers it.
const QueryPrefix = "demand/"

// Options choose the offerings and how they scale.
type Options struct {
	// Infra entries are "cloud" or "cloud/region"; empty: every AWS and GCP
	// region of the catalog.
	Infra []string
	// InstanceTypes narrows the offerings; empty: every type.
	InstanceTypes []string
	// Capacity lists "spot" and/or "on-demand".
	Capacity []string
	// MaxNodes is each policy's max.
	MaxNodes           int
	EvaluationInterval time.Duration
	Cooldown           time.Duration
	NodeDrainDeadline  time.Duration
}

// provisioned are the clouds skynomad-target has a provider for.
var provisioned = []string{"aws", "gcp"}

// Provisioned reports whether skynomad-target launches nodes on cloud.
func Provisioned(cloud string) bool { return slices.Contains(provisioned, cloud) }

// Unstartable says why the controller must not plan on an offering that
// skynomad-target provisions, or returns "": it starts EC2 instance types
// and GCE machine types, not Cloud TPU VMs (GCP's TPU API). A catalog
// Refusing it says so when a plan would choose a TPU.
func Unstartable(o catalog.Offering) string {
	if !Provisioned(o.Cloud) || !o.TPU {
		return ""
	}
	return fmt.Sprintf("%s is a Cloud TPU VM, which skynomad-target (the capacity plugin) does not start yet: it starts EC2 instances and GCE machine types, and TPU VMs are created through GCP's TPU API; ask for a GPU, or run this task with SkyPilot", o.GPU)
}

// Offerings lists the offerings o selects from the catalog, by node class.
// Those with an attached accelerator (TPU VMs, GPUs attached to a GCP N1
// machine) are left out: skynomad-target starts the machine type alone.
func Offerings(cat *catalog.Catalog, o Options) []cloud.Offering {
	var out []cloud.Offering
	for _, off := range cat.Offerings() {
		if !Provisioned(off.Cloud) || off.AttachedAccelerator() || !inInfra(o.Infra, off) ||
			len(o.InstanceTypes) > 0 && !slices.Contains(o.InstanceTypes, off.InstanceType) {
			continue
		}
		for _, c := range o.Capacity {
			if c == "spot" && off.SpotPrice == 0 {
				continue
			}
			out = append(out, cloud.Offering{Cloud: off.Cloud, Region: off.Region, InstanceType: off.InstanceType, Spot: c == "spot"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeClass() < out[j].NodeClass() })
	return slices.CompactFunc(out, func(a, b cloud.Offering) bool { return a == b })
}

func inInfra(infra []string, off catalog.Offering) bool {
	if len(infra) == 0 {
		return true
	}
	for _, in := range infra {
		c, r, _ := strings.Cut(in, "/")
		if c == off.Cloud && (r == "" || r == off.Region) {
			return true
		}
	}
	return false
}

// Render is the policy file of one offering.
func Render(off cloud.Offering, o Options) string {
	class := off.NodeClass()
	return fmt.Sprintf(`# Written by skynomad autoscaler policies: the nodes of %s %s %s (%s).
# The agent reads a policy once: to change it, rename the file (or restart
# the agent) after editing.
scaling %q {
  enabled = true
  type    = "cluster"
  min     = 0
  max     = %d

  policy {
    evaluation_interval = %q
    cooldown            = %q

    check "demand" {
      source = "skynomad"
      query  = %q
      strategy "pass-through" {}
    }

    target "skynomad" {
      %-22s = %q
      %-22s = %q
      %-22s = %q
      %-22s = %q
      %-22s = %q
      node_selector_strategy = "empty_ignore_system"
      node_drain_deadline    = %q
      node_purge             = "true"
    }
  }
}
`, off.Cloud, off.Region, off.InstanceType, off.Capacity(), class, o.MaxNodes,
		o.EvaluationInterval.String(), o.Cooldown.String(), QueryPrefix+class,
		KeyNodeClass, class, KeyCloud, off.Cloud, KeyRegion, off.Region,
		KeyInstanceType, off.InstanceType, KeyCapacity, off.Capacity(),
		o.NodeDrainDeadline.String())
}

// Write writes one <node class>.hcl per offering into dir and returns the
// files written.
func Write(dir string, offs []cloud.Offering, o Options) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, off := range offs {
		path := filepath.Join(dir, off.NodeClass()+".hcl")
		if err := os.WriteFile(path, []byte(Render(off, o)), 0o644); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}
