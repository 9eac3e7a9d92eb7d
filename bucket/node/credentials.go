package node

import (
	"bytes"
	"encoding/json"
	"os"
)

// EnvGCSCredentials carries a GCS service account's JSON key to the node,
// where the GOOGLE_APPLICATION_CREDENTIALS path of the controller would
// mean nothing.
const EnvGCSCredentials = "SKYNOMAD_GCS_CREDENTIALS_JSON"

// credentialVars are the variables the stores read, in CredentialEnv's order.
var credentialVars = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_S3",
	"STORAGE_EMULATOR_HOST",
}

// CredentialEnv returns, as NAME=VALUE in a fixed order, the variables of
// env an engine must deliver to the node for Fetch to reach the stores:
// the AWS credentials, region and endpoints, STORAGE_EMULATOR_HOST, and
// the service account key that GOOGLE_APPLICATION_CREDENTIALS names, read
// now and carried as SKYNOMAD_GCS_CREDENTIALS_JSON (on one line). A key
// file that cannot be read or is not a service account key (gcloud's user
// credentials cannot be handed on) is left out; an
// SKYNOMAD_GCS_CREDENTIALS_JSON already in env is passed on. Empty
// variables are left out.
func CredentialEnv(env []string) []string {
	vars := envMap(env)
	var out []string
	for _, name := range credentialVars {
		if v := vars[name]; v != "" {
			out = append(out, name+"="+v)
		}
	}
	key := vars[EnvGCSCredentials]
	if path := vars["GOOGLE_APPLICATION_CREDENTIALS"]; path != "" {
		if k, ok := serviceAccountKey(path); ok {
			key = k
		}
	}
	if key != "" {
		out = append(out, EnvGCSCredentials+"="+key)
	}
	return out
}

// serviceAccountKey reads a service account's JSON key file, compacted.
func serviceAccountKey(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil || head.Type != "service_account" {
		return "", false
	}
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return "", false
	}
	return b.String(), true
}
