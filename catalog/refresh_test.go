package catalog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// catalogServer serves the fixture as SkyPilot's catalog site does
// (<url>/v7/<cloud>/vms.csv), or body instead when it is set, and counts
// the requests.
type catalogServer struct {
	*httptest.Server
	body     atomic.Pointer[string]
	requests atomic.Int32
}

func newCatalogServer(t *testing.T) *catalogServer {
	t.Helper()
	s := &catalogServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if b := s.body.Load(); b != nil {
			w.Write([]byte(*b))
			return
		}
		http.ServeFile(w, r, filepath.Join(fixtureDir, strings.TrimPrefix(r.URL.Path, "/")))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *catalogServer) answer(body string) { s.body.Store(&body) }

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func fileOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCacheUpdate(t *testing.T) {
	t.Parallel()
	srv := newCatalogServer(t)
	dir := t.TempDir()
	cache := Cache{Dir: dir, BaseURL: srv.URL, Now: func() time.Time { return t0 }}
	for _, cloud := range Clouds() {
		r := cache.Update(context.Background(), cloud)
		if r.Err != nil {
			t.Fatalf("Update %s: %v", cloud, r.Err)
		}
		path := CachePath(dir, cloud)
		if want := len(readFixture(t, cloud)); r.Offerings != want || r.Using.Path != path || !r.Using.ReadOn.Equal(t0) {
			t.Errorf("Update %s = %+v, want %d offerings in %s read at %v", cloud, r, want, path, t0)
		}
		if fileOf(t, path) != fileOf(t, CachePath(fixtureDir, cloud)) {
			t.Errorf("%s: the saved copy differs from what was served", cloud)
		}
		if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(t0) {
			t.Errorf("%s: modification time %v (%v), want %v", cloud, st.ModTime(), err, t0)
		}
	}
	if n := len(cache.Catalog().Offerings()); n != len(readFixture(t, AWS))+len(readFixture(t, GCP)) {
		t.Errorf("the cache's catalog has %d offerings, want the fixture's", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, SchemaVersion, AWS)); len(entries) != 1 {
		t.Errorf("%d files in the aws cache dir, want vms.csv alone (no temporary file left)", len(entries))
	}
}

func TestCacheRefreshStale(t *testing.T) {
	t.Parallel()
	srv := newCatalogServer(t)
	dir := t.TempDir()
	now := t0
	cache := Cache{Dir: dir, BaseURL: srv.URL, Now: func() time.Time { return now }}

	// No copy yet: nothing is downloaded, the embedded copy serves.
	if rs := cache.RefreshStale(context.Background()); len(rs) != 0 || srv.requests.Load() != 0 {
		t.Fatalf("RefreshStale without copies = %+v after %d requests, want nothing done", rs, srv.requests.Load())
	}
	for _, cloud := range Clouds() {
		if r := cache.Update(context.Background(), cloud); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	srv.requests.Store(0)

	// Fresh copies are left alone.
	now = t0.Add(PullFrequency(AWS))
	if rs := cache.RefreshStale(context.Background()); len(rs) != 0 || srv.requests.Load() != 0 {
		t.Fatalf("RefreshStale of fresh copies = %+v after %d requests", rs, srv.requests.Load())
	}

	// Stale: the aws copy is older than the pull frequency.
	now = t0.Add(PullFrequency(AWS) + time.Minute)
	old := t0.Add(-time.Hour)
	if err := os.Chtimes(CachePath(dir, GCP), now, now); err != nil {
		t.Fatal(err)
	}
	rs := cache.RefreshStale(context.Background())
	if len(rs) != 1 || rs[0].Cloud != AWS || rs[0].Err != nil || srv.requests.Load() != 1 {
		t.Fatalf("RefreshStale = %+v after %d requests, want aws refreshed", rs, srv.requests.Load())
	}
	if st, _ := os.Stat(CachePath(dir, AWS)); !st.ModTime().Equal(now) {
		t.Errorf("refreshed copy dated %v, want %v", st.ModTime(), now)
	}

	// Stale and offline: the copy is kept, dated now so the next try
	// waits a period (as SkyPilot does).
	if err := os.Chtimes(CachePath(dir, AWS), old, old); err != nil {
		t.Fatal(err)
	}
	cache.BaseURL = "http://127.0.0.1:1"
	rs = cache.RefreshStale(context.Background())
	if len(rs) != 1 || rs[0].Err == nil || rs[0].Using.Path != CachePath(dir, AWS) {
		t.Fatalf("offline RefreshStale = %+v, want a failure that keeps the cached copy", rs)
	}
	if st, _ := os.Stat(CachePath(dir, AWS)); !st.ModTime().Equal(now) {
		t.Errorf("after a failed refresh the copy is dated %v, want %v", st.ModTime(), now)
	}
}

// TestCacheKeepsWhatReads: a response that is not a catalog, or no
// response, leaves the copy in use, the downloaded one else the embedded.
func TestCacheKeepsWhatReads(t *testing.T) {
	t.Parallel()
	srv := newCatalogServer(t)
	dir := t.TempDir()
	cache := Cache{Dir: dir, BaseURL: srv.URL, Now: func() time.Time { return t0 }}

	// Offline with no copy: the embedded one.
	offline := Cache{Dir: dir, BaseURL: "http://127.0.0.1:1"}
	r := offline.Update(context.Background(), GCP)
	if r.Err == nil || r.Using.Path != "" || !strings.Contains(r.Using.String(), "embedded copy") {
		t.Errorf("offline Update without copy = %+v (%s), want the embedded copy", r, r.Using)
	}
	if _, err := os.Stat(CachePath(dir, GCP)); !os.IsNotExist(err) {
		t.Errorf("offline Update left a file: %v", err)
	}

	if r := cache.Update(context.Background(), GCP); r.Err != nil {
		t.Fatal(r.Err)
	}
	before := fileOf(t, CachePath(dir, GCP))
	for name, body := range map[string]string{
		"an HTML page":     "<html><body>Too Many Requests</body></html>\n",
		"a truncated file": "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\nn1-highmem-4,4.0,26.0,,,,us-central1,us-central1-a,0.2366",
		"a bad number":     "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\nn1-highmem-4,four,26.0,,,,us-central1,us-central1-a,0.2366,\n",
	} {
		srv.answer(body)
		r := cache.Update(context.Background(), GCP)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "is not a catalog") {
			t.Errorf("%s: Update error %v, want it refused", name, r.Err)
		}
		if r.Using.Path != CachePath(dir, GCP) {
			t.Errorf("%s: using %s, want the downloaded copy", name, r.Using)
		}
		if fileOf(t, CachePath(dir, GCP)) != before {
			t.Errorf("%s replaced the downloaded copy", name)
		}
	}
}
