package node_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/bucket/node"
)

func TestCredentialEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sa := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(sa, []byte("{\n  \"type\": \"service_account\",\n  \"client_email\": \"a@p.iam.gserviceaccount.com\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(dir, "adc.json")
	if err := os.WriteFile(user, []byte(`{"type": "authorized_user"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		want []string
	}{{
		name: "AWS in a fixed order, the rest left out",
		env: []string{"HOME=/root", "STORAGE_EMULATOR_HOST=127.0.0.1:4443", "AWS_SESSION_TOKEN=", "AWS_REGION=eu-west-1",
			"AWS_SECRET_ACCESS_KEY=s", "AWS_ACCESS_KEY_ID=old", "AWS_ACCESS_KEY_ID=k", "AWS_CA_BUNDLE=/ca.pem",
			"AWS_ENDPOINT_URL_S3=http://s3:9000", "AWS_PROFILE=dev"},
		want: []string{"AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s", "AWS_REGION=eu-west-1",
			"AWS_ENDPOINT_URL_S3=http://s3:9000", "STORAGE_EMULATOR_HOST=127.0.0.1:4443"},
	}, {
		name: "service account key read and compacted",
		env:  []string{"GOOGLE_APPLICATION_CREDENTIALS=" + sa, "AWS_DEFAULT_REGION=us-west-2"},
		want: []string{"AWS_DEFAULT_REGION=us-west-2",
			`SKYNOMAD_GCS_CREDENTIALS_JSON={"type":"service_account","client_email":"a@p.iam.gserviceaccount.com"}`},
	}, {
		name: "user credentials cannot be handed on",
		env:  []string{"GOOGLE_APPLICATION_CREDENTIALS=" + user},
	}, {
		name: "a missing key file is left out, a delivered key passed on",
		env:  []string{"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "gone.json"), `SKYNOMAD_GCS_CREDENTIALS_JSON={"type":"service_account"}`},
		want: []string{`SKYNOMAD_GCS_CREDENTIALS_JSON={"type":"service_account"}`},
	}}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, node.CredentialEnv(tt.env)); diff != "" {
			t.Errorf("%s: CredentialEnv (-want +got):\n%s", tt.name, diff)
		}
	}
}
