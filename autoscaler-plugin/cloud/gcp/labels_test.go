package gcp

import (
	"regexp"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

func TestLabelKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ tag, want string }{
		{cloud.TagNodeClass, "skynomad-node-class"},
		{cloud.TagOffering, "skynomad-offering"},
		{cloud.TagManaged, "skynomad-managed"},
		{"Team", "team"},
		{"cost.center/owner", "cost-center-owner"},
		{"under_score", "under_score"},
		{"9lives", "k-9lives"},
		{"", "k-"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		if got := LabelKey(tt.tag); got != tt.want {
			t.Errorf("LabelKey(%q) = %q, want %q", tt.tag, got, tt.want)
		}
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, want string }{
		{"sky-gcp-us-central1-n2-standard-8-spot", "sky-gcp-us-central1-n2-standard-8-spot"},
		{"sky-aws-us-east-1-m6i.2xlarge-spot", "sky-aws-us-east-1-m6i_2xlarge-spot"},
		{"gcp:us-central1:n2-standard-8:spot", "gcp_us-central1_n2-standard-8_spot"},
		{"a/b c", "a_b_c"},
		{"Sky-Nomad", "sky-nomad"},
		{"true", "true"},
		{"", ""},
		{"café", "caf_"},
		{strings.Repeat("x", 64), strings.Repeat("x", 63)},
	}
	valid := regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	for _, tt := range tests {
		got := LabelValue(tt.value)
		if got != tt.want {
			t.Errorf("LabelValue(%q) = %q, want %q", tt.value, got, tt.want)
		}
		if !valid.MatchString(got) {
			t.Errorf("LabelValue(%q) = %q is not a valid GCE label value", tt.value, got)
		}
	}
}

func TestInstanceName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	tests := []struct {
		offering cloud.Offering
		prefix   string
	}{
		{cloud.Offering{InstanceType: "n2-standard-8", Spot: true}, "sky-n2-standard-8-spot-"},
		{cloud.Offering{InstanceType: "e2-medium"}, "sky-e2-medium-od-"},
		{cloud.Offering{InstanceType: "M6I.2XLarge", Spot: true}, "sky-m6i-2xlarge-spot-"},
		{cloud.Offering{InstanceType: "--odd__type--"}, "sky-odd-type-od-"},
		{cloud.Offering{InstanceType: "n2-custom-96-638976-ext-with-a-very-long-name-indeed"}, "sky-n2-custom-96-638976-ext-with-a-very-long-od-"},
	}
	for _, tt := range tests {
		a, b := instanceName(tt.offering), instanceName(tt.offering)
		for _, name := range []string{a, b} {
			if !valid.MatchString(name) || len(name) > 63 {
				t.Errorf("instanceName(%q) = %q: not a valid GCE instance name", tt.offering.InstanceType, name)
			}
			if !strings.HasPrefix(name, tt.prefix) || len(name) != len(tt.prefix)+8 {
				t.Errorf("instanceName(%q) = %q, want %q and 8 random characters", tt.offering.InstanceType, name, tt.prefix)
			}
		}
		if a == b {
			t.Errorf("instanceName(%q) gave %q twice", tt.offering.InstanceType, a)
		}
	}
}

func TestStateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   cloud.State
		listed bool
	}{
		{"PROVISIONING", cloud.Pending, true},
		{"STAGING", cloud.Pending, true},
		{"REPAIRING", cloud.Pending, true},
		{"RUNNING", cloud.Running, true},
		{"STOPPING", cloud.Terminating, true},
		{"PENDING_STOP", cloud.Terminating, true},
		{"SUSPENDING", cloud.Terminating, true},
		{"SUSPENDED", cloud.Terminating, true},
		{"TERMINATED", "", false},
	}
	for _, tt := range tests {
		got, listed := stateOf(tt.status)
		if got != tt.want || listed != tt.listed {
			t.Errorf("stateOf(%q) = %q, %v; want %q, %v", tt.status, got, listed, tt.want, tt.listed)
		}
	}
}
