// Package gcsfake serves fake-gcs-server on loopback, over http, for
// tests, and builds the clients and environments that reach it. It is for
// tests only, and a package apart from s3fake because fake-gcs-server is
// heavy to compile.
package gcsfake

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
)

// Project is the project the environments here name (the fake ignores
// it).
const Project = "test-project"

// Server is fake-gcs-server on loopback, up until the test ends. Its
// methods (CreateObject, GetObject, ListObjectsWithOptions…) reach the
// objects directly.
type Server struct {
	*fakestorage.Server
}

// New serves fake-gcs-server with buckets, until t ends. Objects' media
// links name the server, as real GCS's do (rclone downloads from them;
// the in-process server leaves them relative unless told its URL).
func New(t testing.TB, buckets ...string) *Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	req, err := http.NewRequest(http.MethodPut, srv.URL()+"/_internal/config", strings.NewReader(`{"externalUrl": "`+srv.URL()+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting the fake's external URL: %s", resp.Status)
	}
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	return &Server{Server: srv}
}

// Host is the server's host:port, as STORAGE_EMULATOR_HOST takes it.
func (s *Server) Host() string { return strings.TrimPrefix(s.URL(), "http://") }

// Env is what a process that finds GCS the default way (the controller)
// needs to reach s: the emulator host, a project, and no credentials
// file of the host's.
func (s *Server) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + s.Host(), "GOOGLE_CLOUD_PROJECT=" + Project, "GOOGLE_APPLICATION_CREDENTIALS="}
}

// Client is a storage client, without authentication and reading over
// the JSON API, of the server at endpoint (its base URL: the fake's, or
// another stand-in's).
func Client(t testing.TB, endpoint string) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(),
		option.WithEndpoint(endpoint+"/storage/v1/"),
		option.WithoutAuthentication(),
		storage.WithJSONReads(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
