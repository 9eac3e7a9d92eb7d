package policy

import (
	"strings"
	"testing"

	"github.com/skynomad/skynomad/catalog"
)

// TestUnstartable: TPU VMs are not started by skynomad-target and say so;
// they and GPUs attached to N1 machines get no policy.
func TestUnstartable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o    catalog.Offering
		want string // "" when skynomad-target starts it
	}{
		{catalog.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "TPU-VM", GPU: "tpu-v6e-8", GPUCount: 1, TPU: true}, "tpu-v6e-8 is a Cloud TPU VM"},
		{catalog.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "n1-highmem-4", GPU: "T4", GPUCount: 1}, ""},
		{catalog.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "n1-highmem-4"}, ""},
		{catalog.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "a2-highgpu-1g", GPU: "A100", GPUCount: 1}, ""},
		{catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge", GPU: "A100", GPUCount: 8}, ""},
		{catalog.Offering{Cloud: "local", Region: "local", InstanceType: "local"}, ""},
	}
	for _, tc := range tests {
		got := Unstartable(tc.o)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("Unstartable(%s) = %q, want %q", tc.o.Describe(), got, tc.want)
		}
	}
	attached := map[string]bool{}
	for _, o := range catalog.Default().Offerings() {
		if o.AttachedAccelerator() {
			attached[o.Cloud+"/"+o.Region+"/"+o.InstanceType] = true
		}
	}
	for _, o := range catalog.Default().Offerings() {
		if !o.AttachedAccelerator() {
			delete(attached, o.Cloud+"/"+o.Region+"/"+o.InstanceType) // the machine alone has a policy
		}
	}
	for _, off := range Offerings(catalog.Default(), opts) {
		if attached[off.Cloud+"/"+off.Region+"/"+off.InstanceType] {
			t.Errorf("a policy for %s, which only comes with an attached accelerator", off.NodeClass())
		}
	}
}
