package catalog_test

import (
	"strings"
	"testing"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/translator"
)

// TestEmbeddedResolves: what SkyPilot task files commonly name resolves
// against the embedded catalog, from YAML to a placement. Each case is
// skipped, naming itself, when the embedded copy lacks what it names.
func TestEmbeddedResolves(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	has := func(f func(catalog.Offering) bool) bool {
		for _, o := range cat.Offerings() {
			if f(o) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name, yaml string
		needs      func(catalog.Offering) bool
		want       func(catalog.Choice) bool
	}{
		{
			name: "instance type m5.2xlarge", yaml: "resources:\n  instance_type: m5.2xlarge\n",
			needs: func(o catalog.Offering) bool { return o.InstanceType == "m5.2xlarge" },
			want:  func(c catalog.Choice) bool { return c.Offering.InstanceType == "m5.2xlarge" },
		},
		{
			name: "instance type t3.small", yaml: "resources:\n  instance_type: t3.small\n",
			needs: func(o catalog.Offering) bool { return o.InstanceType == "t3.small" },
			want:  func(c catalog.Choice) bool { return c.Offering.InstanceType == "t3.small" },
		},
		{
			name: "instance type g6.8xlarge", yaml: "resources:\n  instance_type: g6.8xlarge\n",
			needs: func(o catalog.Offering) bool { return o.InstanceType == "g6.8xlarge" },
			want: func(c catalog.Choice) bool {
				return c.Offering.InstanceType == "g6.8xlarge" && c.Offering.GPU == "L4"
			},
		},
		{
			name: "region us-east-2", yaml: "resources:\n  infra: aws/us-east-2\n",
			needs: func(o catalog.Offering) bool { return o.Region == "us-east-2" },
			want:  func(c catalog.Choice) bool { return c.Offering.Region == "us-east-2" },
		},
		{
			// SkyPilot's catalogs name the 40 GB A100 "A100".
			name: "accelerator A100-40GB", yaml: "resources:\n  accelerators: a100-40gb:1\n",
			needs: func(o catalog.Offering) bool { return o.GPU == "A100" && o.GPUCount == 1 },
			want:  func(c catalog.Choice) bool { return c.Offering.GPU == "A100" && c.Offering.GPUCount == 1 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !has(tc.needs) {
				t.Skipf("the embedded catalog has no offering for %s: rebuild it with make catalog-data", tc.name)
			}
			dag, err := translator.Load("task.yaml", []byte(tc.yaml+"run: echo hi\n"), translator.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			choices, err := cat.Plan(dag.Tasks[0], catalog.Constraints{})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			for _, c := range choices {
				if !tc.want(c) {
					t.Errorf("choice %s %s %s %s:%v does not match %s", c.Offering.Cloud, c.Offering.Region,
						c.Offering.InstanceType, c.Offering.GPU, c.Offering.GPUCount, strings.TrimSpace(tc.yaml))
				}
			}
		})
	}
}
