package catalog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCSVRoundTrip(t *testing.T) {
	t.Parallel()
	in := append(Default().Offerings(), Offering{
		Cloud: "gcp", Region: "us-central1", Zones: []string{"us-central1-a", "us-central1-b"},
		InstanceType: "x", VCPUs: 0.5, MemoryGB: 1.7, OnDemandPrice: 0.01,
	})
	var buf bytes.Buffer
	if err := WriteCSV(&buf, in); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	out, err := ReadCSV(&buf)
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	if diff := cmp.Diff(in, out, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadCSVPricesReadOn(t *testing.T) {
	t.Parallel()
	src := "# a comment\n# prices-read-on: 2030-01-02\ncloud,region,instance_type,vcpus,memory_gb,gpu,gpu_count,on_demand_price,spot_price\naws,us-east-1,m6i.large,2,8,,,0.096,\n"
	offs, readOn, err := readCSV(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if readOn != "2030-01-02" || len(offs) != 1 || offs[0].SpotPrice != 0 {
		t.Errorf("got %d offerings %+v, read on %q", len(offs), offs, readOn)
	}
}

func TestReadCSVErrors(t *testing.T) {
	t.Parallel()
	const header = "cloud,region,instance_type,vcpus,memory_gb,gpu,gpu_count,on_demand_price,spot_price\n"
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "no header row"},
		{"missing column", "cloud,region,instance_type\n", `missing column "vcpus"`},
		{"bad number", header + "aws,us-east-1,m6i.large,two,8,,,0.1,\n", `line 2: field vcpus: "two" is not a number`},
		{"negative price", header + "aws,us-east-1,m6i.large,2,8,,,-1,\n", `line 2: field on_demand_price: "-1" is negative`},
		{"empty region", header + "aws,,m6i.large,2,8,,,0.1,\n", "line 2: field region: empty"},
		{"gpu without count", header + "aws,us-east-1,p4d.24xlarge,96,1152,A100,,32,\n", "line 2: field gpu_count: empty"},
		{"count without gpu", header + "aws,us-east-1,m6i.large,2,8,,1,0.1,\n", "line 2: field gpu_count: set without gpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadCSV(strings.NewReader(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadCSV error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
