package ec2fake_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws/ec2fake"
)

// signed is an Authorization header of the SigV4 form; the fake checks
// its form, not its signature.
const signed = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

// The SDK's own requests are covered by cloud/aws's tests; these are the
// answers the SDK never provokes.
func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		auth       string
		form       url.Values
		wantStatus int
		wantCode   string
	}{
		{"unsigned", "", url.Values{"Action": {"DescribeInstances"}, "Version": {ec2fake.APIVersion}}, 401, "AuthFailure"},
		{"unknown action", signed, url.Values{"Action": {"CreateVpc"}, "Version": {ec2fake.APIVersion}}, 400, "InvalidAction"},
		{"old version", signed, url.Values{"Action": {"DescribeInstances"}, "Version": {"2014-10-01"}}, 400, "NoSuchVersion"},
		{"unknown filter", signed, url.Values{"Action": {"DescribeInstances"}, "Version": {ec2fake.APIVersion},
			"Filter.1.Name": {"vpc-id"}, "Filter.1.Value.1": {"vpc-1"}}, 400, "InvalidParameterValue"},
		{"terminate unknown", signed, url.Values{"Action": {"TerminateInstances"}, "Version": {ec2fake.APIVersion},
			"InstanceId.1": {"i-0123456789abcdef0"}}, 400, "InvalidInstanceID.NotFound"},
	}
	fake := ec2fake.New(ec2fake.Options{})
	t.Cleanup(fake.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fake.URL(), strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), "<Code>"+tt.wantCode+"</Code>") ||
				!strings.Contains(string(body), "<Response><Errors><Error>") {
				t.Errorf("got %d %s, want %d with an EC2 error %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
