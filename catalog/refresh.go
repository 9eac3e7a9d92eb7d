package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// DefaultBaseURL is where SkyPilot publishes its catalog; a cloud's file
// is <base>/v7/<cloud>/vms.csv.
const DefaultBaseURL = "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs"

// DefaultMirrorURL is the copy SkyPilot falls back on when GitHub answers
// 429 Too Many Requests; used only with DefaultBaseURL.
const DefaultMirrorURL = "https://skypilot-catalog.s3.us-east-1.amazonaws.com/catalogs"

// PullFrequency is how old a cloud's downloaded copy may get before a
// refresh replaces it: SkyPilot pulls its AWS and GCP catalogs every 7
// hours (_PULL_FREQUENCY_HOURS in sky/catalog/aws_catalog.py and
// gcp_catalog.py).
func PullFrequency(cloud string) time.Duration {
	return 7 * time.Hour
}

// maxDownload bounds a downloaded vms.csv (AWS's is about 3 MB).
const maxDownload = 256 << 20

// Cache keeps downloaded copies of SkyPilot's catalog files in Dir
// (<home>/catalogs/v7/<cloud>/vms.csv) and refreshes them from BaseURL.
// A copy is replaced only by a response that reads as a catalog, and
// atomically.
type Cache struct {
	Dir string
	// BaseURL replaces DefaultBaseURL (a mirror, a test server).
	BaseURL string
	// Client makes the requests (default: one with a 2-minute timeout).
	Client *http.Client
	// Now tells the time (default time.Now); downloaded copies are dated
	// with it.
	Now func() time.Time
}

// Catalog is the cache's catalog: each cloud's downloaded copy when it
// reads, else the embedded one (Load).
func (c Cache) Catalog() *Catalog { return Load(c.Dir) }

// URL is where a cloud's file is downloaded from.
func (c Cache) URL(cloud string) string {
	return c.base() + "/" + SchemaVersion + "/" + cloud + "/vms.csv"
}

func (c Cache) base() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return DefaultBaseURL
}

func (c Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Refresh is the outcome of refreshing one cloud's copy.
type Refresh struct {
	Cloud string
	URL   string
	// Offerings is how many offerings the saved copy holds; 0 when
	// nothing was saved.
	Offerings int
	// Err says why nothing was saved: the download failed, or its
	// response is not a catalog.
	Err error
	// Using is where the cloud's offerings come from now.
	Using Origin
}

// Update downloads a cloud's file, whatever the age of its copy
// (skynomad catalog update).
func (c Cache) Update(ctx context.Context, cloud string) Refresh {
	return c.refresh(ctx, cloud, false)
}

// RefreshStale downloads the files whose copy is older than
// PullFrequency. A cloud with no copy is left to the embedded catalog
// until skynomad catalog update downloads one. As in SkyPilot, a failed
// refresh keeps the old copy and dates it now, so that the next try waits
// a period.
func (c Cache) RefreshStale(ctx context.Context) []Refresh {
	var out []Refresh
	for _, cloud := range Clouds() {
		st, err := os.Stat(CachePath(c.Dir, cloud))
		if err != nil || c.now().Sub(st.ModTime()) <= PullFrequency(cloud) {
			continue
		}
		out = append(out, c.refresh(ctx, cloud, true))
	}
	return out
}

func (c Cache) refresh(ctx context.Context, cloud string, touchOnFailure bool) Refresh {
	r := Refresh{Cloud: cloud, URL: c.URL(cloud)}
	path := CachePath(c.Dir, cloud)
	n, err := c.download(ctx, cloud, path)
	if err == nil {
		r.Offerings = n
		r.Using = Origin{Cloud: cloud, Path: path, ReadOn: c.now()}
		return r
	}
	r.Err = err
	if touchOnFailure {
		now := c.now()
		_ = os.Chtimes(path, now, now)
	}
	_, r.Using = loadCloud(c.Dir, cloud)
	return r
}

// download fetches a cloud's file, checks that it reads, and puts it at
// path through a temporary file and a rename.
func (c Cache) download(ctx context.Context, cloud, path string) (int, error) {
	body, err := c.get(ctx, c.URL(cloud))
	var tooMany *statusError
	if errors.As(err, &tooMany) && tooMany.code == http.StatusTooManyRequests && c.BaseURL == "" {
		body, err = c.get(ctx, DefaultMirrorURL+"/"+SchemaVersion+"/"+cloud+"/vms.csv")
	}
	if err != nil {
		return 0, err
	}
	offs, err := ReadV7(cloud, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%s is not a catalog (%w), so it was not saved", c.URL(cloud), err)
	}
	if err := writeAtomic(path, body, c.now()); err != nil {
		return 0, err
	}
	return len(offs), nil
}

type statusError struct {
	url    string
	code   int
	status string
}

func (e *statusError) Error() string { return "GET " + e.url + ": " + e.status }

func (c Cache) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "skynomad")
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{url: url, code: resp.StatusCode, status: resp.Status}
	}
	body, err := readAllLimited(resp.Body, maxDownload)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return body, nil
}

// writeAtomic replaces path with data, dated at.
func writeAtomic(path string, data []byte, at time.Time) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".vms.csv-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Chtimes(tmp, at, at)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
