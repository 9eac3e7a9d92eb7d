package gcp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Defaults for the Config fields left empty.
const (
	DefaultImage   = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts"
	DefaultNetwork = "global/networks/default"
	DefaultDiskGB  = 50
)

// The plugin configuration keys ConfigFromMap reads.
const (
	KeyProject         = "gcp_project"
	KeyEndpoint        = "gcp_endpoint"
	KeyNoAuth          = "gcp_no_auth"
	KeyCredentialsFile = "gcp_credentials_file"
	KeyImage           = "image"
	KeyNetwork         = "network"
	KeySubnetwork      = "subnetwork"
	KeyServiceAccount  = "service_account"
	KeyDiskGB          = "disk_gb"
	KeyExternalIP      = "external_ip"
)

// minDiskGB is the smallest boot disk GCE accepts.
const minDiskGB = 10

// Config is how a Provider reaches GCE and what its instances look like.
type Config struct {
	Project string // gcp_project (required)
	// Endpoint is the base URL of the Compute API (gcp_endpoint), e.g.
	// https://compute.googleapis.com, a private endpoint or a fake; the
	// client adds /compute/v1/projects/…. Empty: Google's.
	Endpoint string
	// NoAuth sends no credentials (gcp_no_auth = "true"): emulators and
	// tests only.
	NoAuth bool
	// CredentialsFile is a service account key or other credentials JSON
	// file (gcp_credentials_file). Empty: Application Default Credentials.
	CredentialsFile string
	Image           string // boot image (image); default DefaultImage
	Network         string // network; default DefaultNetwork
	Subnetwork      string // subnetwork, regions/<region>/subnetworks/<name> (optional)
	// ServiceAccount is the instances' service account email
	// (service_account), with scope cloud-platform; empty: none.
	ServiceAccount string
	DiskGB         int // boot disk size (disk_gb); default DefaultDiskGB
	// ExternalIP gives each instance an ephemeral public address
	// (external_ip). ConfigFromMap defaults it to true; a Config built in
	// code gets what it says.
	ExternalIP bool
}

// ConfigFromMap reads a Config from the plugin's configuration keys (see
// the Key constants), fills the defaults and validates it. Keys it does not
// know are left to others. Errors name the key and what it accepts.
func ConfigFromMap(m map[string]string) (Config, error) {
	c := Config{
		Project:         strings.TrimSpace(m[KeyProject]),
		Endpoint:        strings.TrimSpace(m[KeyEndpoint]),
		CredentialsFile: strings.TrimSpace(m[KeyCredentialsFile]),
		Image:           strings.TrimSpace(m[KeyImage]),
		Network:         strings.TrimSpace(m[KeyNetwork]),
		Subnetwork:      strings.TrimSpace(m[KeySubnetwork]),
		ServiceAccount:  strings.TrimSpace(m[KeyServiceAccount]),
		ExternalIP:      true,
	}
	var err error
	if c.NoAuth, err = boolKey(m, KeyNoAuth, false); err != nil {
		return Config{}, err
	}
	if c.ExternalIP, err = boolKey(m, KeyExternalIP, true); err != nil {
		return Config{}, err
	}
	if v, ok := m[KeyDiskGB]; ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("gcp: %s = %q: want a whole number of GB, at least %d", KeyDiskGB, v, minDiskGB)
		}
		c.DiskGB = n
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func boolKey(m map[string]string, key string, def bool) (bool, error) {
	v, ok := m[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	switch strings.TrimSpace(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("gcp: %s = %q: want \"true\" or \"false\"", key, v)
}

// withDefaults fills the fields left empty (not ExternalIP: false is a
// choice).
func (c Config) withDefaults() Config {
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.Network == "" {
		c.Network = DefaultNetwork
	}
	if c.DiskGB == 0 {
		c.DiskGB = DefaultDiskGB
	}
	return c
}

// Validate reports the first field that GCE or the client would refuse,
// naming its configuration key.
func (c Config) Validate() error {
	if c.Project == "" {
		return fmt.Errorf("gcp: %s is required: the GCP project ID to launch instances in", KeyProject)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("gcp: %s = %q: want the base URL of the Compute API, e.g. https://compute.googleapis.com", KeyEndpoint, c.Endpoint)
		}
	}
	if c.NoAuth && c.CredentialsFile != "" {
		return fmt.Errorf("gcp: %s and %s = \"true\" both set: choose one", KeyCredentialsFile, KeyNoAuth)
	}
	if c.DiskGB < minDiskGB {
		return fmt.Errorf("gcp: %s = %d: want a whole number of GB, at least %d", KeyDiskGB, c.DiskGB, minDiskGB)
	}
	if c.Subnetwork != "" && !strings.Contains(c.Subnetwork, "subnetworks/") {
		return fmt.Errorf("gcp: %s = %q: want regions/<region>/subnetworks/<name>", KeySubnetwork, c.Subnetwork)
	}
	if c.ServiceAccount != "" && !strings.Contains(c.ServiceAccount, "@") {
		return fmt.Errorf("gcp: %s = %q: want a service account email, e.g. nomad@%s.iam.gserviceaccount.com", KeyServiceAccount, c.ServiceAccount, c.Project)
	}
	return nil
}

// subnetworkRegion returns the region a subnetwork path names, or "".
func subnetworkRegion(subnetwork string) string {
	parts := strings.Split(subnetwork, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "regions" {
			return parts[i+1]
		}
	}
	return ""
}
