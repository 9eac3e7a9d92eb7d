package aws

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

// Config keys ConfigFromMap reads; other keys in the map are not its own
// and are left alone.
const (
	KeyEndpoint         = "aws_endpoint"
	KeyAMI              = "ami"
	KeySSMParameter     = "ami_ssm_parameter"
	KeySubnetIDs        = "subnet_ids"         // zone=subnet-id,zone=subnet-id
	KeySecurityGroupIDs = "security_group_ids" // comma separated
	KeyInstanceProfile  = "instance_profile"   // name or ARN
	KeyKeyName          = "key_name"
	KeyRootVolumeGB     = "root_volume_gb"
)

// DefaultSSMParameter is the public SSM parameter holding the current
// Ubuntu 22.04 amd64 AMI of the region.
const DefaultSSMParameter = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"

// maxRootVolumeGB is the largest gp2/gp3 volume EC2 creates (16 TiB).
const maxRootVolumeGB = 16384

// Config is how the Provider launches instances in its region.
type Config struct {
	// Endpoint is a custom EC2 (and SSM) endpoint URL: VPC endpoints,
	// GovCloud, emulators, tests. Empty: the region's public endpoints.
	Endpoint string
	// AMI is the image to launch; when empty it is read from SSMParameter.
	AMI string
	// SSMParameter names the SSM parameter whose value is the AMI ID;
	// default DefaultSSMParameter.
	SSMParameter string
	// SubnetIDs is the subnet to launch into, per zone. A zone without one
	// gets the default VPC's subnet of the zone.
	SubnetIDs map[string]string
	// SecurityGroupIDs are attached to every instance (sg-…).
	SecurityGroupIDs []string
	// InstanceProfile is the IAM instance profile, by name or by ARN.
	InstanceProfile string
	// KeyName is the EC2 key pair for SSH.
	KeyName string
	// RootVolumeGB sizes the root volume; 0 keeps the AMI's size.
	RootVolumeGB int
	// Credentials sign the requests; nil: the SDK's default chain
	// (environment, shared files, instance role, …).
	Credentials awssdk.CredentialsProvider
}

// ConfigError says which config key is wrong and what it accepts.
type ConfigError struct {
	Key     string
	Value   string
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %q %s", e.Key, e.Value, e.Problem)
}

// ConfigFromMap reads the keys above from a plugin or target config block.
func ConfigFromMap(m map[string]string) (Config, error) {
	c := Config{
		Endpoint:        strings.TrimSpace(m[KeyEndpoint]),
		AMI:             strings.TrimSpace(m[KeyAMI]),
		SSMParameter:    strings.TrimSpace(m[KeySSMParameter]),
		InstanceProfile: strings.TrimSpace(m[KeyInstanceProfile]),
		KeyName:         strings.TrimSpace(m[KeyKeyName]),
	}
	if v := m[KeySubnetIDs]; strings.TrimSpace(v) != "" {
		c.SubnetIDs = map[string]string{}
		for _, entry := range cloud.SplitList(v) {
			zone, subnet, ok := strings.Cut(entry, "=")
			zone, subnet = strings.TrimSpace(zone), strings.TrimSpace(subnet)
			if !ok || zone == "" || subnet == "" {
				return Config{}, &ConfigError{Key: KeySubnetIDs, Value: entry,
					Problem: `is not zone=subnet-id (e.g. "us-east-1a=subnet-0abc,us-east-1b=subnet-0def")`}
			}
			if _, dup := c.SubnetIDs[zone]; dup {
				return Config{}, &ConfigError{Key: KeySubnetIDs, Value: entry,
					Problem: "names zone " + zone + " a second time; give one subnet per zone"}
			}
			c.SubnetIDs[zone] = subnet
		}
	}
	if v := m[KeySecurityGroupIDs]; strings.TrimSpace(v) != "" {
		c.SecurityGroupIDs = cloud.SplitList(v)
	}
	if v := strings.TrimSpace(m[KeyRootVolumeGB]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, &ConfigError{Key: KeyRootVolumeGB, Value: v,
				Problem: fmt.Sprintf("is not a whole number of GiB (0 to %d; 0 keeps the AMI's size)", maxRootVolumeGB)}
		}
		c.RootVolumeGB = n
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// validate checks a Config however it was built.
func (c Config) validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &ConfigError{Key: KeyEndpoint, Value: c.Endpoint,
				Problem: "is not an http(s) URL (e.g. https://ec2.us-gov-west-1.amazonaws.com)"}
		}
	}
	if c.AMI != "" && !strings.HasPrefix(c.AMI, "ami-") {
		return &ConfigError{Key: KeyAMI, Value: c.AMI, Problem: "is not an AMI ID (ami-…)"}
	}
	if strings.ContainsAny(c.SSMParameter, " \t\n") {
		return &ConfigError{Key: KeySSMParameter, Value: c.SSMParameter,
			Problem: "is not an SSM parameter name (e.g. " + DefaultSSMParameter + ")"}
	}
	for _, zone := range slices.Sorted(maps.Keys(c.SubnetIDs)) {
		if s := c.SubnetIDs[zone]; !strings.HasPrefix(s, "subnet-") {
			return &ConfigError{Key: KeySubnetIDs, Value: zone + "=" + s, Problem: "does not name a subnet ID (subnet-…)"}
		}
	}
	for _, sg := range c.SecurityGroupIDs {
		if !strings.HasPrefix(sg, "sg-") {
			return &ConfigError{Key: KeySecurityGroupIDs, Value: sg,
				Problem: "is not a security group ID (sg-…; names are not accepted)"}
		}
	}
	if c.RootVolumeGB < 0 || c.RootVolumeGB > maxRootVolumeGB {
		return &ConfigError{Key: KeyRootVolumeGB, Value: strconv.Itoa(c.RootVolumeGB),
			Problem: fmt.Sprintf("is out of range (0 to %d; 0 keeps the AMI's size)", maxRootVolumeGB)}
	}
	return nil
}

// withDefaults fills what an empty field means.
func (c Config) withDefaults() Config {
	if c.SSMParameter == "" {
		c.SSMParameter = DefaultSSMParameter
	}
	return c
}
