package e2e

import (
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/skynomad/skynomad/internal/gcsfake"
)

// gcsServer is a GCS store on loopback: fake-gcs-server, in this process.
type gcsServer struct{ *gcsfake.Server }

func gcsStore(t *testing.T) objectStore { return &gcsServer{gcsfake.New(t, filesBucket)} }

func (g *gcsServer) scheme() string { return "gs" }
func (g *gcsServer) store() string  { return "gcs" }

func (g *gcsServer) env() []string { return g.Env() }

func (g *gcsServer) keys(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	objs, _, err := g.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatalf("list gs://%s/%s: %v", bucket, prefix, err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Name)
	}
	return keys
}

func (g *gcsServer) get(bucket, key string) string {
	o, err := g.GetObject(bucket, key)
	if err != nil {
		return ""
	}
	return string(o.Content)
}
