// Package s3fake serves an in-memory S3 (gofakes3) on loopback for tests,
// and builds the clients, client configurations and environments that
// reach it. It is for tests only. The GCS counterpart is package gcsfake,
// apart so that an S3 test does not compile fake-gcs-server.
package s3fake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The credentials and region of every client of the fake. gofakes3 checks
// no signature, so any credentials would do; these are the ones the
// clients and environments here carry.
const (
	AccessKeyID     = "AKIDFAKE"
	SecretAccessKey = "fake-secret"
	Region          = "us-east-1"
)

// Options say what New serves.
type Options struct {
	// Buckets are created before New returns.
	Buckets []string
	// Before, if set, sees every request before the fake serves it: to
	// count some, or to slow them down.
	Before func(*http.Request)
}

// Server is an in-memory S3 on loopback, up until the test ends.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:port.
	URL string
	// Client is a path-style client of the server (gofakes3 serves no
	// virtual-hosted bucket names).
	Client *s3.Client
}

// New serves an empty in-memory S3 with o's buckets, until t ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	h := gofakes3.New(s3mem.New()).Server()
	if before := o.Before; before != nil {
		fake := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before(r)
			fake.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config(srv.URL)
	s := &Server{URL: srv.URL, Client: s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: cfg.BaseEndpoint,
		UsePathStyle: true,
		Credentials:  cfg.Credentials,
	})}
	for _, b := range o.Buckets {
		if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("creating bucket %s: %v", b, err)
		}
	}
	return s
}

// Config is the configuration of a client of s.
func (s *Server) Config() aws.Config { return Config(s.URL) }

// Config is the configuration of an S3 client of endpoint (the fake's
// URL, or another stand-in's), built by hand so that nothing in the
// environment (AWS_CA_BUNDLE, a profile) reaches it.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// Env is what a process that loads the AWS SDK's default configuration
// (the controller) needs to reach s, and nothing else: no CA bundle,
// profile, shared files or instance metadata of the host.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + SecretAccessKey, "AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL_S3=" + s.URL, "AWS_CA_BUNDLE=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
}
