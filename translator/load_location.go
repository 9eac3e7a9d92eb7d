package translator

// Where a resource request may run: infra, and the older cloud/region/zone.

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// knownClouds are the infra names accepted; "local" is this host (catalog.Offering).
var knownClouds = []string{
	"aws", "azure", "cudo", "do", "fluidstack", "gcp", "hyperbolic", "ibm", "kubernetes", "lambda",
	"local", "nebius", "oci", "paperspace", "primeintellect", "runpod", "scp", "seeweb", "ssh", "vast", "vsphere",
}

// cloudAliases are other spellings of clouds.
var cloudAliases = map[string]string{"k8s": "kubernetes"}

// cloud reads a cloud name; "*" and null mean any cloud.
func (d *taskDecoder) cloud(n *yaml.Node, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil {
		return "", err
	}
	return d.cloudName(n, path, strings.TrimSpace(s))
}

func (d *taskDecoder) cloudName(n *yaml.Node, path, s string) (string, error) {
	if s == "" || s == "*" {
		return "", nil
	}
	c := strings.ToLower(s)
	if alias, ok := cloudAliases[c]; ok {
		c = alias
	}
	if !slices.Contains(knownClouds, c) {
		return "", d.errorAt(unalias(n), path, "unknown cloud %q", s).choices(s, append(slices.Clone(knownClouds), "k8s"))
	}
	return c, nil
}

// infra reads cloud[/region[/zone]], k8s[/context] or ssh/<pool>; "*"
// leaves a part free.
func (d *taskDecoder) infra(n *yaml.Node, path string) (task.Infra, error) {
	s, err := d.str(n, path)
	if err != nil {
		return task.Infra{}, err
	}
	s = strings.TrimSpace(s)
	head, rest, hasRest := strings.Cut(s, "/")
	cloud, err := d.cloudName(n, path, head)
	if err != nil || !hasRest {
		return task.Infra{Cloud: cloud}, err
	}
	free := func(part string) string {
		if part == "*" {
			return ""
		}
		return part
	}
	if cloud == "kubernetes" || cloud == "ssh" {
		// A Kubernetes context or an SSH node pool name may hold slashes.
		return task.Infra{Cloud: cloud, Region: free(rest)}, nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 2 || slices.Contains(parts, "") {
		return task.Infra{}, d.errorAt(unalias(n), path, "%q is not a location", s).
			accepting("cloud[/region[/zone]] with * for any part, k8s[/context], ssh/<pool>")
	}
	infra := task.Infra{Cloud: cloud, Region: free(parts[0])}
	if len(parts) == 2 {
		infra.Zone = free(parts[1])
	}
	return infra, nil
}
