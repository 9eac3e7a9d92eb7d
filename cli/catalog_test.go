package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// catalogFixture serves the catalog package's v7 fixture as SkyPilot's
// catalog site does: <url>/v7/<cloud>/vms.csv. body, when set, replaces
// every answer.
func catalogFixture(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body != "" {
			w.Write([]byte(body))
			return
		}
		http.ServeFile(w, r, filepath.Join("..", "catalog", "testdata", strings.TrimPrefix(r.URL.Path, "/")))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// runCatalog runs `skynomad catalog args...` in home, with the catalog at
// url, and returns its transcript with home and url written as <home>
// and <url>.
func runCatalog(t *testing.T, home, url string, args ...string) (transcript string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"SKYNOMAD_HOME": home, "SKYNOMAD_CATALOG_URL": url}
	io := IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC) },
	}
	code = Main(context.Background(), io, append([]string{"catalog"}, args...))
	s := "--- stdout\n" + out.String() + "--- stderr\n" + errOut.String()
	s = strings.ReplaceAll(s, home, "<home>")
	if url != "" {
		s = strings.ReplaceAll(s, url, "<url>")
	}
	return s, code
}

// TestCatalogCommands: update downloads the catalog into the home; ls
// lists what was downloaded; a failed update keeps it and says so.
func TestCatalogCommands(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	good := catalogFixture(t, "")

	steps := []struct {
		name     string
		url      string
		args     []string
		wantCode int
	}{
		{"update", good.URL, []string{"update"}, ExitOK},
		{"ls-unknown-gpu", good.URL, []string{"ls", "B300"}, ExitError},
		{"ls-gpus", good.URL, []string{"ls", "--gpus"}, ExitOK},
		{"ls-name-count", good.URL, []string{"ls", "l4:1"}, ExitOK},
		{"ls-instance-types-region", good.URL, []string{"ls", "--cloud", "aws", "--region", "us-east-2"}, ExitOK},
		{"ls-bad-cloud", good.URL, []string{"ls", "--cloud", "azure"}, ExitError},
		{"update-not-a-catalog", catalogFixture(t, "<html><body>Too many requests</body></html>\n").URL, []string{"update"}, ExitError},
		{"update-offline", "http://127.0.0.1:1", []string{"update"}, ExitError},
	}
	for _, s := range steps {
		got, code := runCatalog(t, home, s.url, s.args...)
		if code != s.wantCode {
			t.Errorf("%s: exit code %d, want %d\n%s", s.name, code, s.wantCode, got)
		}
		golden(t, "catalog-"+s.name+".txt", got)
	}

	// The failed updates kept the downloaded copy.
	for _, cloud := range []string{"aws", "gcp"} {
		want, err := os.ReadFile(filepath.Join("..", "catalog", "testdata", "v7", cloud, "vms.csv"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(home, "catalogs", "v7", cloud, "vms.csv"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s copy after failed updates: %v, changed %v", cloud, err, !bytes.Equal(got, want))
		}
	}
}
