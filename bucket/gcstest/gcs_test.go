package gcstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/internal/storetest"
	"github.com/skynomad/skynomad/internal/gcsfake"
)

func TestGCSStore(t *testing.T) {
	t.Parallel()
	c := gcsfake.Client(t, gcsfake.New(t).URL())
	var n atomic.Int64
	storetest.Run(t, storetest.Backend{
		NewURL: func(t *testing.T, prefix string) bucket.URL {
			return bucket.URL{Scheme: "gs", Bucket: fmt.Sprintf("bucket-%d", n.Add(1)), Prefix: prefix}
		},
		Open: func(t *testing.T, u bucket.URL) bucket.Store {
			s, err := bucket.OpenWith(context.Background(), u, bucket.Options{GCS: c, GCSProject: gcsfake.Project})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Prefixes: true,
	})
}

// forbidden is GCS's answer to a caller without the permission.
const forbidden = `{"error": {"code": 403, "message": "ci@example.iam.gserviceaccount.com does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).", "errors": [{"message": "denied", "domain": "global", "reason": "forbidden"}]}}`

func TestGCSDenied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(forbidden))
	}))
	t.Cleanup(deny.Close)
	u := bucket.URL{Scheme: "gs", Bucket: "guarded", Prefix: "team"}
	s, err := bucket.OpenWith(ctx, u, bucket.Options{GCS: gcsfake.Client(t, deny.URL)})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Denied(t, s)
}

// TestOpenEmulatorHost: Open honours STORAGE_EMULATOR_HOST, reads
// included (fake-gcs-server serves no XML API on that host).
func TestOpenEmulatorHost(t *testing.T) {
	srv := gcsfake.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	t.Setenv("GOOGLE_CLOUD_PROJECT", gcsfake.Project)
	storetest.FromEnv(t, "gs://emulated/files")
}

// TestOpenNoCredentials: with no Application Default Credentials, Open
// says so.
func TestOpenNoCredentials(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"STORAGE_EMULATOR_HOST": "", "GOOGLE_APPLICATION_CREDENTIALS": "",
		"HOME": home, "CLOUDSDK_CONFIG": home, "GCE_METADATA_HOST": "",
	} {
		t.Setenv(k, v)
	}
	u := bucket.URL{Scheme: "gs", Bucket: "mine"}
	_, err := bucket.Open(context.Background(), u)
	if !errors.Is(err, bucket.ErrNotConfigured) {
		t.Fatalf("Open without credentials: %v, want ErrNotConfigured", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "gs://mine") || !strings.Contains(msg, "gcloud auth application-default login") {
		t.Errorf("the error %q does not name the store or say how to configure credentials", msg)
	}
}
