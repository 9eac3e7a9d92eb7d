package aws_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws"
)

func TestConfigFromMap(t *testing.T) {
	t.Parallel()
	got, err := aws.ConfigFromMap(map[string]string{
		"aws_endpoint":       "https://vpce-0abc.ec2.us-east-1.vpce.amazonaws.com",
		"ami":                "ami-0123456789abcdef0",
		"ami_ssm_parameter":  "/custom/ami",
		"subnet_ids":         "us-east-1a=subnet-1, us-east-1b = subnet-2",
		"security_group_ids": "sg-1, sg-2",
		"instance_profile":   "skynomad-node",
		"key_name":           "ops",
		"root_volume_gb":     "100",
		"instance_type":      "m5.large", // not this package's: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	want := aws.Config{
		Endpoint:         "https://vpce-0abc.ec2.us-east-1.vpce.amazonaws.com",
		AMI:              "ami-0123456789abcdef0",
		SSMParameter:     "/custom/ami",
		SubnetIDs:        map[string]string{"us-east-1a": "subnet-1", "us-east-1b": "subnet-2"},
		SecurityGroupIDs: []string{"sg-1", "sg-2"},
		InstanceProfile:  "skynomad-node",
		KeyName:          "ops",
		RootVolumeGB:     100,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigFromMap (-want +got):\n%s", diff)
	}

	empty, err := aws.ConfigFromMap(nil)
	if err != nil || !cmp.Equal(empty, aws.Config{}) {
		t.Errorf("ConfigFromMap(nil) = %+v, %v; want the zero Config", empty, err)
	}
}

func TestConfigFromMapErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, value string
	}{
		{"aws_endpoint", "ec2.internal"},
		{"aws_endpoint", "ftp://ec2.internal"},
		{"ami", "ubuntu-22.04"},
		{"ami_ssm_parameter", "/aws/service/ubuntu 22.04"},
		{"subnet_ids", "subnet-1"},
		{"subnet_ids", "us-east-1a="},
		{"subnet_ids", "us-east-1a=subnet-1,us-east-1a=subnet-2"},
		{"subnet_ids", "us-east-1a=vpc-1"},
		{"security_group_ids", "sg-1,default"},
		{"root_volume_gb", "lots"},
		{"root_volume_gb", "-1"},
		{"root_volume_gb", "20000"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := aws.ConfigFromMap(map[string]string{tt.key: tt.value})
			var ce *aws.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ConfigFromMap(%s=%q) = %v, want a *ConfigError", tt.key, tt.value, err)
			}
			if ce.Key != tt.key || !strings.HasPrefix(err.Error(), tt.key+": ") {
				t.Errorf("error %q names key %q, want %q first", err, ce.Key, tt.key)
			}
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := aws.New(t.Context(), "us-east-1", aws.Config{SecurityGroupIDs: []string{"web"}})
	var ce *aws.ConfigError
	if !errors.As(err, &ce) || ce.Key != aws.KeySecurityGroupIDs {
		t.Errorf("New with security group name = %v, want a ConfigError for %s", err, aws.KeySecurityGroupIDs)
	}
	if _, err := aws.New(t.Context(), "", aws.Config{}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("New without region = %v, want an error naming the region", err)
	}
}
