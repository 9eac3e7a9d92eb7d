package gcp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp"
)

func TestConfigFromMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]string
		want gcp.Config
	}{
		{
			name: "defaults",
			in:   map[string]string{"gcp_project": "p1", "aws_region": "ignored"},
			want: gcp.Config{Project: "p1", Image: gcp.DefaultImage, Network: gcp.DefaultNetwork, DiskGB: 50, ExternalIP: true},
		},
		{
			name: "every key",
			in: map[string]string{
				"gcp_project": "p1", "gcp_endpoint": "http://127.0.0.1:8080", "gcp_no_auth": "true",
				"image": "projects/cos-cloud/global/images/family/cos-stable", "network": "global/networks/sky",
				"subnetwork": "regions/us-central1/subnetworks/sky", "service_account": "nomad@p1.iam.gserviceaccount.com",
				"disk_gb": "100", "external_ip": "false",
			},
			want: gcp.Config{
				Project: "p1", Endpoint: "http://127.0.0.1:8080", NoAuth: true,
				Image: "projects/cos-cloud/global/images/family/cos-stable", Network: "global/networks/sky",
				Subnetwork: "regions/us-central1/subnetworks/sky", ServiceAccount: "nomad@p1.iam.gserviceaccount.com",
				DiskGB: 100,
			},
		},
		{
			name: "credentials file",
			in:   map[string]string{"gcp_project": "p1", "gcp_credentials_file": "/etc/sky/key.json", "external_ip": "true"},
			want: gcp.Config{Project: "p1", CredentialsFile: "/etc/sky/key.json", Image: gcp.DefaultImage, Network: gcp.DefaultNetwork, DiskGB: 50, ExternalIP: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := gcp.ConfigFromMap(tt.in)
			if err != nil {
				t.Fatalf("ConfigFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ConfigFromMap (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]string
		want []string // substrings of the error
	}{
		{"no project", map[string]string{}, []string{"gcp_project", "required"}},
		{"disk not a number", map[string]string{"gcp_project": "p", "disk_gb": "fifty"}, []string{"disk_gb", `"fifty"`, "whole number"}},
		{"disk too small", map[string]string{"gcp_project": "p", "disk_gb": "5"}, []string{"disk_gb", "at least 10"}},
		{"external ip", map[string]string{"gcp_project": "p", "external_ip": "yes"}, []string{"external_ip", `"yes"`, `"true" or "false"`}},
		{"no auth", map[string]string{"gcp_project": "p", "gcp_no_auth": "1"}, []string{"gcp_no_auth", `"1"`}},
		{"endpoint", map[string]string{"gcp_project": "p", "gcp_endpoint": "compute.googleapis.com"}, []string{"gcp_endpoint", "base URL"}},
		{"subnetwork", map[string]string{"gcp_project": "p", "subnetwork": "sky"}, []string{"subnetwork", "regions/<region>/subnetworks/<name>"}},
		{"service account", map[string]string{"gcp_project": "p", "service_account": "nomad"}, []string{"service_account", "email"}},
		{"auth twice", map[string]string{"gcp_project": "p", "gcp_no_auth": "true", "gcp_credentials_file": "/k.json"}, []string{"gcp_credentials_file", "gcp_no_auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gcp.ConfigFromMap(tt.in)
			if err == nil {
				t.Fatalf("ConfigFromMap(%v) = nil error, want one naming %v", tt.in, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	base := gcp.Config{Project: "p", NoAuth: true, Endpoint: "http://127.0.0.1:1"}
	tests := []struct {
		name   string
		region string
		cfg    func(gcp.Config) gcp.Config
		want   string
	}{
		{"no region", "", func(c gcp.Config) gcp.Config { return c }, "region"},
		{"subnetwork elsewhere", "us-central1", func(c gcp.Config) gcp.Config {
			c.Subnetwork = "regions/europe-west4/subnetworks/sky"
			return c
		}, "subnetwork"},
		{"credentials file missing", "us-central1", func(c gcp.Config) gcp.Config {
			c.NoAuth, c.CredentialsFile = false, "/nonexistent/key.json"
			return c
		}, "gcp_credentials_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := gcp.New(context.Background(), tt.region, tt.cfg(base))
			if err == nil {
				p.Close()
				t.Fatalf("New = nil error, want one about %s", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error %q does not mention %s", err, tt.want)
			}
		})
	}
}
