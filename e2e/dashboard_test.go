package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// freeLoopbackAddr returns a 127.0.0.1 address nothing listens on.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// background starts skynomad with args and returns its stderr lines as
// they come; the process is stopped at the test's end.
func (h *harness) background(args ...string) (*exec.Cmd, <-chan string) {
	h.t.Helper()
	cmd := exec.Command(skynomad, args...)
	cmd.Env = h.env
	out, err := cmd.StderrPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	h.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	return cmd, lines
}

// until reads lines until one matches re, and returns its submatches.
func until(t *testing.T, lines <-chan string, re *regexp.Regexp, seen *[]string) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %s:\n%s", re, strings.Join(*seen, "\n"))
			}
			*seen = append(*seen, l)
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("no line matching %s in 30 s:\n%s", re, strings.Join(*seen, "\n"))
		}
	}
}

func get(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A controller on TCP makes a token at its first start, prints it once and
// requires it everywhere; the CLI on its host reads it from the home.
func TestControllerOnTCPRequiresTheTokenItGenerated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, target{name: "local", engine: "local", wait: time.Minute})
	addr := freeLoopbackAddr(t)
	h.env = append(h.env, "SKYNOMAD_CONTROLLER_ADDR=http://"+addr)
	tokenLine := regexp.MustCompile(`^\s+([0-9a-f]{64})$`)
	var seen []string
	_, lines := h.background("controller", "--listen", addr)
	token := until(t, lines, tokenLine, &seen)[1]
	tokenFile := filepath.Join(h.home, "controller.token")
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v (mode %v), want 0600", tokenFile, err, fi.Mode().Perm())
	}
	until(t, lines, regexp.MustCompile(`controller started`), &seen)

	id := h.launch("hello.yaml")
	if j := h.waitEnd(id); j.Status != api.StatusSucceeded {
		t.Fatalf("job %d ended %s, want SUCCEEDED (the CLI sends the token from %s)", id, j.Status, tokenFile)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/metrics", "/", "/jobs/1", "/v1/jobs/1", "/events"} {
		if code, body := get(t, c, "http://"+addr+path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d %.80q, want 401", path, code, body)
		}
	}
	code, metrics := get(t, c, "http://"+addr+"/metrics", token)
	for _, want := range []string{`skynomad_jobs{status="SUCCEEDED"} 1`, `skynomad_attempt_launches_total{capacity="on-demand",cloud="local",region=""} 1`,
		"skynomad_event_loop_lag_seconds ", `skynomad_sqlite_seconds_count{op="save"}`} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Errorf("GET /metrics with the token: %d, lacks %q:\n%s", code, want, lastLines(metrics, 40))
		}
	}
	if code, page := get(t, c, "http://"+addr+"/", token); code != http.StatusOK || !strings.Contains(page, "hello") {
		t.Errorf("GET / with the token: %d, want the jobs page listing job hello:\n%.400s", code, page)
	}
}

// Serving TCP without a token is refused, except on loopback.
func TestControllerRefusesNoTokenOffLoopback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, target{name: "local", engine: "local", wait: time.Minute})
	r := h.run("controller", "--listen", "0.0.0.0:0", "--insecure-no-token")
	if r.code == 0 || !strings.Contains(r.stderr, "not loopback") {
		t.Fatalf("want a refusal naming loopback:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(h.home, "controller.token")); !os.IsNotExist(err) {
		t.Errorf("a refused start wrote a token: %v", err)
	}
}

// `skynomad dashboard` serves the local controller's dashboard on loopback,
// signed in by the address it prints; on Nomad the job page links the job
// into the Nomad UI.
func TestDashboardCommandServesTheLocalController(t *testing.T) {
	scenario(t, testDashboardCommand)
}

func testDashboardCommand(t *testing.T, h *harness) {
	id := h.launch("hello.yaml")
	h.waitEnd(id)
	var seen []string
	_, lines := h.background("dashboard", "--no-browser")
	u := until(t, lines, regexp.MustCompile(`Dashboard: (http://127\.0\.0\.1:\d+/)\?token=(\w+)`), &seen)
	base, token := u[1], u[2]

	c := &http.Client{Timeout: 10 * time.Second}
	if code, _ := get(t, c, base, ""); code != http.StatusUnauthorized {
		t.Errorf("GET %s without the token: %d, want 401", base, code)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	code, page := get(t, browser, base+"?token="+token, "")
	if code != http.StatusOK || !strings.Contains(page, `data-job-id="1"`) || !strings.Contains(page, "SUCCEEDED") {
		t.Fatalf("GET the printed address: %d, want the jobs page with job 1 SUCCEEDED:\n%.600s", code, page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"jobs/1", nil)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="job-status"`) {
		t.Errorf("GET /jobs/1 through the proxy: %d:\n%.600s", resp.StatusCode, body)
	}
	if h.target.engine == "nomad" {
		link := "/ui/jobs/sky-1-0@" + h.ns
		if !strings.Contains(string(body), link) {
			t.Errorf("the job page on Nomad links no %s:\n%s", link, body)
		}
	}
}
