package taskdriver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	pstructs "github.com/hashicorp/nomad/plugins/shared/structs"
)

// metadataTimeout bounds each metadata request: off a cloud, nothing
// answers and the fingerprint must not wait long.
const metadataTimeout = time.Second

// offering is what the node is, as far as the plugin knows.
type offering struct {
	Cloud, Region, Zone, InstanceType string
	// Capacity is "spot", "on-demand" or "" (unknown).
	Capacity string
}

func (o offering) known() bool { return o.Cloud != "" }

// merge lays the plugin config's values over o.
func (o offering) merge(c PluginConfig) offering {
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&o.Cloud, c.Cloud}, {&o.Region, c.Region}, {&o.Zone, c.Zone},
		{&o.InstanceType, c.InstanceType}, {&o.Capacity, c.Capacity},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if o.Region == "" && o.Zone != "" && o.Cloud == "gcp" {
		o.Region = gcpRegion(o.Zone)
	}
	return o
}

// attributes are the driver.skypilot.* node attributes (without prefix).
func (o offering) attributes() map[string]*pstructs.Attribute {
	attrs := map[string]*pstructs.Attribute{}
	for k, v := range map[string]string{"cloud": o.Cloud, "region": o.Region, "zone": o.Zone, "instance_type": o.InstanceType} {
		if v != "" {
			attrs[k] = pstructs.NewStringAttribute(v)
		}
	}
	if o.Capacity != "" {
		attrs["spot"] = pstructs.NewBoolAttribute(o.Capacity == "spot")
	}
	return attrs
}

// probeMetadata asks the instance metadata services the config allows.
func probeMetadata(ctx context.Context, c PluginConfig) offering {
	client := &http.Client{Timeout: metadataTimeout}
	if c.Metadata == MetadataAuto || c.Metadata == MetadataAWS {
		if o, err := awsMetadata(ctx, client, c.AWSMetadataEndpoint); err == nil {
			return o
		}
	}
	if c.Metadata == MetadataAuto || c.Metadata == MetadataGCP {
		if o, err := gcpMetadata(ctx, client, c.GCPMetadataEndpoint); err == nil {
			return o
		}
	}
	return offering{}
}

// awsMetadata reads the instance's offering from IMDSv2: a session token,
// then instance-type, placement/availability-zone, placement/region and
// instance-life-cycle ("spot" or "on-demand").
func awsMetadata(ctx context.Context, client *http.Client, endpoint string) (offering, error) {
	endpoint = strings.TrimRight(endpoint, "/")
	token, err := metadataGet(ctx, client, http.MethodPut, endpoint+"/latest/api/token",
		map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"})
	if err != nil {
		return offering{}, err
	}
	get := func(p string) (string, error) {
		return metadataGet(ctx, client, http.MethodGet, endpoint+"/latest/meta-data/"+p,
			map[string]string{"X-aws-ec2-metadata-token": token})
	}
	o := offering{Cloud: "aws"}
	if o.InstanceType, err = get("instance-type"); err != nil {
		return offering{}, err
	}
	if o.Zone, err = get("placement/availability-zone"); err != nil {
		return offering{}, err
	}
	if o.Region, err = get("placement/region"); err != nil && len(o.Zone) > 1 {
		o.Region = o.Zone[:len(o.Zone)-1] // us-east-1a → us-east-1
	}
	if life, err := get("instance-life-cycle"); err == nil {
		o.Capacity = "on-demand"
		if life == "spot" {
			o.Capacity = "spot"
		}
	}
	return o, nil
}

// gcpMetadata reads the instance's offering from the GCP metadata server:
// machine-type, zone and scheduling/provisioning-model (SPOT or STANDARD;
// scheduling/preemptible TRUE on older instances).
func gcpMetadata(ctx context.Context, client *http.Client, endpoint string) (offering, error) {
	endpoint = strings.TrimRight(endpoint, "/")
	get := func(p string) (string, error) {
		return metadataGet(ctx, client, http.MethodGet, endpoint+"/computeMetadata/v1/instance/"+p,
			map[string]string{"Metadata-Flavor": "Google"})
	}
	o := offering{Cloud: "gcp"}
	mt, err := get("machine-type")
	if err != nil {
		return offering{}, err
	}
	zone, err := get("zone")
	if err != nil {
		return offering{}, err
	}
	o.InstanceType, o.Zone = path.Base(mt), path.Base(zone)
	o.Region = gcpRegion(o.Zone)
	model, err := get("scheduling/provisioning-model")
	if err != nil {
		model, _ = get("scheduling/preemptible")
	}
	switch strings.ToUpper(model) {
	case "SPOT", "TRUE":
		o.Capacity = "spot"
	case "STANDARD", "FALSE":
		o.Capacity = "on-demand"
	}
	return o, nil
}

// gcpRegion is a GCP zone's region: us-central1-a → us-central1.
func gcpRegion(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

func metadataGet(ctx context.Context, client *http.Client, method, url string, header map[string]string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}
