package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/skynomad/skynomad/internal/s3fake"
)

// requestCounter counts the requests that match.
type requestCounter struct {
	match func(*http.Request) bool
	n     atomic.Int64
}

func (c *requestCounter) see(r *http.Request) {
	if c.match(r) {
		c.n.Add(1)
	}
}

// newS3TestStore opens an s3 store of a new bucket on gofakes3, which
// shows every request to counter (which may be nil).
func newS3TestStore(t *testing.T, counter *requestCounter) *s3Store {
	t.Helper()
	var o s3fake.Options
	if counter != nil {
		o.Before = counter.see
	}
	cfg := s3fake.New(t, o).Config()
	s, err := newS3Store(context.Background(), URL{Scheme: "s3", Bucket: "test-bucket"}, Options{AWS: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3DeleteBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &requestCounter{match: func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Query().Has("delete")
	}}
	s := newS3TestStore(t, c)
	s.deleteBatch = 3
	var keys []string
	for i := range 7 {
		k := fmt.Sprintf("job-1/k%d", i)
		keys = append(keys, k)
		if err := s.Put(ctx, k, bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, append(keys, "job-1/missing")); err != nil {
		t.Fatal(err)
	}
	if got := c.n.Load(); got != 3 {
		t.Errorf("8 keys in batches of 3 took %d DeleteObjects, want 3", got)
	}
	if objs, err := s.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Errorf("left after Delete: %v, %v", objs, err)
	}
}

func TestS3Multipart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &requestCounter{match: func(r *http.Request) bool { return r.URL.Query().Has("partNumber") }}
	s := newS3TestStore(t, c)
	s.multipartAt, s.partSize = 1<<20, 1<<20
	data := make([]byte, 5<<19) // 2.5 parts
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := s.Put(ctx, "big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := c.n.Load(); got != 3 {
		t.Errorf("uploaded in %d parts, want 3", got)
	}
	r, err := s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get after a multipart Put: %d bytes (want %d), equal %v, %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	// A reader that cannot be read at offsets goes in one request.
	c.n.Store(0)
	if err := s.Put(ctx, "big2", struct{ io.ReadSeeker }{bytes.NewReader(data)}, int64(len(data))); err != nil {
		t.Fatalf("Put of an io.ReadSeeker: %v", err)
	}
	if got := c.n.Load(); got != 0 {
		t.Errorf("an io.ReadSeeker went in %d parts", got)
	}
}

// TestS3RegionRedirect: a bucket in another region than the client's
// answers 301 with its region; the store moves there.
func TestS3RegionRedirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scope := regexp.MustCompile(`Credential=[^/]+/[0-9]+/([^/]+)/s3/`)
	var redirects atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil || m[1] != "eu-west-1" {
			redirects.Add(1)
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		if r.Method == http.MethodPut {
			io.Copy(io.Discard, r.Body)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := s3fake.Config(srv.URL)
	s, err := newS3Store(ctx, URL{Scheme: "s3", Bucket: "far-away"}, Options{AWS: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(ctx, false); err != nil {
		t.Fatalf("Ensure of a bucket in another region: %v", err)
	}
	if err := s.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatalf("Put after the move: %v", err)
	}
	if got := redirects.Load(); got != 1 {
		t.Errorf("%d redirects, want 1", got)
	}
}
