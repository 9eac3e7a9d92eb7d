// Package bootstrap renders the script that turns a fresh instance into a
// Nomad client of one offering's node class: the user data on AWS
// (cloud-init runs it), the startup-script on GCP. The default template is
// jobspecs/bootstrap/nomad-client.sh.tmpl; operators may replace it.
package bootstrap

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/skynomad/skynomad/jobspecs"
)

// DefaultTemplate is the template skynomad ships.
var DefaultTemplate = jobspecs.BootstrapTemplate

// Values are what a template may use.
type Values struct {
	Cloud, Region, InstanceType string
	Capacity                    string // spot or on-demand
	NodeClass                   string
	Datacenter                  string   // default dc1
	NomadServers                []string // host:port of the servers' RPC
	NomadVersion                string   // default DefaultNomadVersion
	SkynomadURL                 string   // where the node downloads skynomad; empty: preinstalled
	PluginURL                   string   // where it downloads the skypilot task-driver plugin; empty: preinstalled
}

// DefaultNomadVersion is the Nomad client a node installs when the
// template's config names none (and the image has none).
const DefaultNomadVersion = "1.6.1"

// safe is what a value may hold: it lands in a shell script and in HCL.
var safe = regexp.MustCompile(`^[A-Za-z0-9._:/@%+=,-]*$`)

// Render fills tmpl with v.
func Render(tmpl string, v Values) (string, error) {
	if v.Datacenter == "" {
		v.Datacenter = "dc1"
	}
	if v.NomadVersion == "" {
		v.NomadVersion = DefaultNomadVersion
	}
	if len(v.NomadServers) == 0 {
		return "", fmt.Errorf("nomad_servers: required: the servers' RPC addresses (host:4647) the new client joins")
	}
	for name, s := range map[string]string{"cloud": v.Cloud, "region": v.Region, "instance_type": v.InstanceType,
		"capacity": v.Capacity, "node_class": v.NodeClass, "datacenter": v.Datacenter,
		"nomad_servers": strings.Join(v.NomadServers, ","), "nomad_version": v.NomadVersion, "skynomad_url": v.SkynomadURL, "plugin_url": v.PluginURL} {
		if !safe.MatchString(s) {
			return "", fmt.Errorf("%s: %q has characters a bootstrap script cannot hold safely", name, s)
		}
	}
	t, err := template.New("bootstrap").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("bootstrap template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("bootstrap template: %w", err)
	}
	return b.String(), nil
}
