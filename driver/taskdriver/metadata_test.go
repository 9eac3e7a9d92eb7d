package taskdriver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/interrupt/imdsmock"
)

// TestAWSMetadataFromIMDSv2 reads the offering from AWS's own IMDS
// simulator (ec2-metadata-mock), token first.
func TestAWSMetadataFromIMDSv2(t *testing.T) {
	bin := imdsmock.Require(t, realagent.Required())
	sim := imdsmock.Start(t, bin)
	got := probeMetadata(context.Background(), PluginConfig{Metadata: MetadataAWS, AWSMetadataEndpoint: sim.URL})
	// The simulator's default instance.
	want := offering{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a", InstanceType: "m4.xlarge", Capacity: "on-demand"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offering (-want +got):\n%s", diff)
	}
}

// gcpMetadataServer answers as GCP's metadata server does (v1, with the
// Metadata-Flavor header required); hand-written, for nothing of GCP's
// runs here.
func gcpMetadataServer(t *testing.T, values map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		v, ok := values[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		_, _ = w.Write([]byte(v))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGCPMetadata(t *testing.T) {
	t.Parallel()
	const p = "/computeMetadata/v1/instance/"
	tests := []struct {
		name   string
		values map[string]string
		want   offering
	}{
		{"spot", map[string]string{p + "machine-type": "projects/123/machineTypes/n2-standard-8", p + "zone": "projects/123/zones/us-central1-b",
			p + "scheduling/provisioning-model": "SPOT"},
			offering{Cloud: "gcp", Region: "us-central1", Zone: "us-central1-b", InstanceType: "n2-standard-8", Capacity: "spot"}},
		{"older preemptible", map[string]string{p + "machine-type": "projects/1/machineTypes/a2-highgpu-1g", p + "zone": "projects/1/zones/europe-west4-a",
			p + "scheduling/preemptible": "TRUE"},
			offering{Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-a", InstanceType: "a2-highgpu-1g", Capacity: "spot"}},
		{"standard", map[string]string{p + "machine-type": "projects/1/machineTypes/e2-small", p + "zone": "projects/1/zones/us-east1-c",
			p + "scheduling/provisioning-model": "STANDARD"},
			offering{Cloud: "gcp", Region: "us-east1", Zone: "us-east1-c", InstanceType: "e2-small", Capacity: "on-demand"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := gcpMetadataServer(t, tc.values)
			got := probeMetadata(context.Background(), PluginConfig{Metadata: MetadataGCP, GCPMetadataEndpoint: url})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("offering (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAutoFallsBackToGCPAndConfigWins: off AWS, auto asks GCP; values in
// the plugin config win over the metadata.
func TestAutoFallsBackToGCPAndConfigWins(t *testing.T) {
	t.Parallel()
	const p = "/computeMetadata/v1/instance/"
	url := gcpMetadataServer(t, map[string]string{p + "machine-type": "m/e2-small", p + "zone": "z/us-east1-c"})
	noAWS := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noAWS.Close)
	cfg := PluginConfig{Metadata: MetadataAuto, AWSMetadataEndpoint: noAWS.URL, GCPMetadataEndpoint: url, Capacity: "spot"}
	got := probeMetadata(context.Background(), cfg).merge(cfg)
	want := offering{Cloud: "gcp", Region: "us-east1", Zone: "us-east1-c", InstanceType: "e2-small", Capacity: "spot"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offering (-want +got):\n%s", diff)
	}
	if none := probeMetadata(context.Background(), PluginConfig{Metadata: MetadataNone, GCPMetadataEndpoint: url}); none.known() {
		t.Errorf("metadata = none asked anyway: %+v", none)
	}
}
