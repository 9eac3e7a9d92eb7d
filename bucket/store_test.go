package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/internal/storetest"
	"github.com/skynomad/skynomad/internal/s3fake"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Backend{
		NewURL: func(t *testing.T, _ string) bucket.URL {
			return bucket.URL{Scheme: "file", Bucket: filepath.Join(t.TempDir(), "bucket")}
		},
		Open: func(t *testing.T, u bucket.URL) bucket.Store {
			s, err := bucket.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}

func TestS3Store(t *testing.T) {
	t.Parallel()
	cfg := s3fake.New(t, s3fake.Options{}).Config()
	var n atomic.Int64
	storetest.Run(t, storetest.Backend{
		NewURL: func(t *testing.T, prefix string) bucket.URL {
			return bucket.URL{Scheme: "s3", Bucket: fmt.Sprintf("bucket-%d", n.Add(1)), Prefix: prefix}
		},
		Open: func(t *testing.T, u bucket.URL) bucket.Store {
			s, err := bucket.OpenWith(context.Background(), u, bucket.Options{AWS: &cfg})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Prefixes: true,
	})
}

// accessDenied is S3's answer to a request its policy denies.
const accessDenied = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>host</HostId></Error>`

func TestS3Errors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			w.Write([]byte(accessDenied))
		}
	}))
	t.Cleanup(deny.Close)
	u := bucket.URL{Scheme: "s3", Bucket: "guarded", Prefix: "team"}
	denyCfg := s3fake.Config(deny.URL)
	s, err := bucket.OpenWith(ctx, u, bucket.Options{AWS: &denyCfg})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Denied(t, s)
}

func TestS3NoCredentials(t *testing.T) {
	// No credentials anywhere: no environment, no files, no instance role.
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		t.Setenv(v, "")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithSharedConfigFiles([]string{filepath.Join(t.TempDir(), "none")}),
		config.WithSharedCredentialsFiles([]string{filepath.Join(t.TempDir(), "none")}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
		config.WithBaseEndpoint(s3fake.New(t, s3fake.Options{}).URL),
	)
	if err != nil {
		t.Fatal(err)
	}
	u := bucket.URL{Scheme: "s3", Bucket: "mine"}
	s, err := bucket.OpenWith(ctx, u, bucket.Options{AWS: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(ctx, "")
	if !errors.Is(err, bucket.ErrNotConfigured) {
		t.Fatalf("List without credentials: %v, want ErrNotConfigured", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	if msg := err.Error(); !strings.Contains(msg, "s3://mine") || !strings.Contains(msg, "AWS_ACCESS_KEY_ID") {
		t.Errorf("the error %q does not name the store or say how to configure credentials", msg)
	}
}

// TestOpenS3Environment: Open takes the endpoint and the credentials from
// the environment, and a custom endpoint switches to path-style requests
// (gofakes3 serves no virtual-hosted bucket names).
func TestOpenS3Environment(t *testing.T) {
	for _, endpointVar := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		t.Run(endpointVar, func(t *testing.T) {
			none := filepath.Join(t.TempDir(), "none")
			for k, v := range map[string]string{
				"AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL": "",
				"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
				"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
				"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
			} {
				t.Setenv(k, v)
			}
			// A host name, not an IP address: the SDK would use path-style
			// requests for an IP address by itself.
			t.Setenv(endpointVar, strings.Replace(s3fake.New(t, s3fake.Options{}).URL, "127.0.0.1", "localhost", 1))
			storetest.FromEnv(t, "s3://from-env/prefix")
		})
	}
}
