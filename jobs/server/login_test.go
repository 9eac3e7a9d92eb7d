package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// page answers every dashboard path with its path, so a test sees which
// requests got through.
var page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "page "+r.URL.RequestURI())
})

func newTokenServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := New(Config{Backend: &fakeBackend{}, Token: "s3cret", Dashboard: page, Metrics: page})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func TestDashboardAndMetricsRefuseRequestsWithoutTheToken(t *testing.T) {
	ts := newTokenServer(t)
	for _, path := range []string{"/", "/jobs/1", "/metrics", "/v1/jobs/1/detail", "/v1/capacity", "/events"} {
		for _, auth := range []string{"", "Bearer wrong", "s3cret"} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			req.AddCookie(&http.Cookie{Name: "skynomad_token", Value: "not-it"})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "page ") {
				t.Errorf("GET %s with Authorization %q: %d %q, want 401 and nothing served", path, auth, resp.StatusCode, body)
			}
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics with the bearer token: %d, want 200", resp.StatusCode)
	}
}

func TestBrowserGetsALoginPageThenACookieFromTheTokenInTheURL(t *testing.T) {
	ts := newTokenServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/jobs/7", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `<form method="post" action="/login">`) ||
		!strings.Contains(string(body), `value="/jobs/7"`) {
		t.Fatalf("a browser without the token: %d\n%s\nwant 401 and the login form coming back to /jobs/7", resp.StatusCode, body)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.Get(ts.URL + "/jobs/7?token=wrong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("?token=wrong: %d, want 401", resp.StatusCode)
	}
	resp, err = c.Get(ts.URL + "/jobs/7?status=RUNNING&token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(body); got != "page /jobs/7?status=RUNNING" {
		t.Errorf("after ?token=: got %q, want the page without the token in its address", got)
	}
	u, _ := url.Parse(ts.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "skynomad_token" && ck.Value == "s3cret" {
			return
		}
	}
	t.Error("no skynomad_token cookie was set")
}

func TestLoginFormSetsTheCookieAndCrossSitePostsAreRefused(t *testing.T) {
	ts := newTokenServer(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(ts.URL+"/login", url.Values{"token": {"s3cret"}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page /" {
		t.Fatalf("after login: %q, want the jobs page (an off-site next is ignored)", body)
	}
	post := func(origin string) int {
		req, _ := http.NewRequest("POST", ts.URL+"/jobs/7/cancel", strings.NewReader(""))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("https://evil.example"); code != http.StatusForbidden {
		t.Errorf("a cross-site POST with the cookie: %d, want 403", code)
	}
	if code := post(ts.URL); code != http.StatusOK {
		t.Errorf("a same-origin POST with the cookie: %d, want 200", code)
	}
}
