package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

const (
	nameXSS = "<script>alert(1)</script>"
	logXSS  = "<img src=x onerror=alert(2)>"
)

// hostile is a world where every string a user or an engine controls is
// markup.
func hostile() *fakeBackend {
	j := job(1, nameXSS, `<b onmouseover=alert(3)>mallory</b>`, api.StatusRunning, time.Hour)
	j.Pool = `pool"><script>alert(4)</script>`
	j.FailureReason = `<iframe src=javascript:alert(5)>`
	j.Cost = &api.Cost{Spent: 1, OnDemand: 2, Savings: 1}
	j.Tasks[0].Name = nameXSS
	j.Tasks[0].Requested = `1x [<svg onload=alert(6)>]`
	j.Tasks[0].FailureReason = `<iframe src=javascript:alert(5)>`
	f := newFake(j)
	f.details[1] = api.JobDetail{
		Job: j,
		Attempts: []api.Attempt{{Task: 0, Number: 1, Infra: "<i>aws</i>", Instance: "<u>m6i</u>", Node: `<marquee>node</marquee>`,
			CreatedAt: now.Add(-time.Hour), PlacedAt: tp(now.Add(-50 * time.Minute)), EndedAt: tp(now.Add(-10 * time.Minute)),
			Outcome: "preempted", Links: []api.Link{{Title: "<b>alloc</b>", URL: "javascript:alert(7)"}}}},
		Timeline: []api.Change{{At: now.Add(-time.Hour), Task: 0, Status: api.StatusFailed, Note: "<script>alert(8)</script>"}},
		Links:    []api.Link{{Title: nameXSS, URL: "javascript:alert(9)"}},
	}
	f.logs[1] = "(task, pid=1) " + logXSS + "\n" + logXSS + "\n"
	f.ctlLogs[1] = logXSS + "\n"
	f.pools = []api.Pool{{Name: `<script>alert(10)</script>`, Status: api.PoolFailed, FailureReason: logXSS, Requested: nameXSS,
		Worker: []api.Worker{{ID: 2, Status: api.WorkerFailed, Node: logXSS, Infra: nameXSS, Job: 1}}}}
	f.capacity = api.Capacity{
		Offerings: []api.OfferingUse{{Class: nameXSS, Infra: logXSS, Instance: "m6i", Demand: 1}},
		Nodes:     []api.Node{{Name: logXSS, Class: nameXSS, Status: "ready", Link: "javascript:alert(11)"}},
		Errors:    []api.CapacityError{{At: now, JobID: 1, Cloud: nameXSS, Region: logXSS, Instance: "m6i", Reason: logXSS}},
	}
	return f
}

func TestEveryPageEscapes(t *testing.T) {
	t.Parallel()
	d := newDashboard(hostile(), `"><script>alert(12)</script>`)
	raw := []string{"<script>alert", "<img src=x", "<iframe", "<svg onload", "<b onmouseover", "<marquee", "<b>alloc", "<i>aws", `href="javascript:`, `src="javascript:`}
	for _, tc := range []struct {
		path string
		want []string // what must show, escaped
	}{
		{"/", []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b onmouseover=alert(3)&gt;mallory&lt;/b&gt;", "&lt;iframe src=javascript:alert(5)&gt;"}},
		{"/?q=" + "%3Cscript%3E", []string{`value="&lt;script&gt;"`, "&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/?user=%3Cb%20onmouseover%3Dalert(3)%3Emallory%3C%2Fb%3E", []string{"&lt;b onmouseover=alert(3)&gt;mallory&lt;/b&gt;"}},
		{"/jobs/1/row", []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/jobs/counts?q=%3Cscript%3E", []string{"q=%3Cscript%3E"}},
		{"/jobs/1", []string{
			"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", "&lt;marquee&gt;node&lt;/marquee&gt;",
			"&lt;script&gt;alert(8)&lt;/script&gt;", `href="#ZgotmplZ"`, `value="&#34;&gt;&lt;script&gt;alert(12)&lt;/script&gt;"`,
		}},
		{"/jobs/1?rank=0", []string{"(task, pid=1) &lt;img src=x onerror=alert(2)&gt;"}},
		{"/jobs/1/summary", []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/pools", []string{"&lt;script&gt;alert(10)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;"}},
		{"/capacity", []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", `href="#ZgotmplZ"`}},
		{"/cost", []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/%3Cscript%3Ealert(13)%3C/script%3E", []string{"There is no page at /&lt;script&gt;alert(13)&lt;/script&gt;."}},
		{"/?status=%3Cscript%3E", []string{"status &#34;&lt;script&gt;&#34; is not a status"}},
	} {
		res := get(t, d, tc.path)
		if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
		for _, r := range raw {
			if strings.Contains(res.body, r) {
				i := strings.Index(res.body, r)
				t.Errorf("GET %s shows raw %q: …%s…", tc.path, r, res.body[max(0, i-80):min(len(res.body), i+80)])
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("GET %s lacks %s", tc.path, w)
			}
		}
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	d := newDashboard(hostile(), "")
	for _, path := range []string{"/", "/jobs/1", "/jobs/1/row", "/jobs/counts", "/pools", "/capacity", "/cost", "/nowhere", "/jobs/x", "/static/dashboard.css", "/jobs/1/log"} {
		res := get(t, d, path)
		if got := res.header.Get("Content-Security-Policy"); got != "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'" {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", path, got)
		}
	}
	// No inline script or style for the CSP to block.
	plain := newDashboard(spotJob(), "")
	for _, path := range []string{"/", "/jobs/12", "/pools", "/capacity", "/cost", "/nowhere"} {
		body := get(t, plain, path).body
		for _, inline := range []string{"<script>", " style=", "<style", " onclick=", " onload="} {
			if strings.Contains(body, inline) {
				t.Errorf("GET %s holds inline %q", path, inline)
			}
		}
	}
}

func TestPlainLogIsText(t *testing.T) {
	t.Parallel()
	f := hostile()
	res := get(t, newDashboard(f, ""), "/jobs/1/log?task=0")
	if res.code != http.StatusOK || res.header.Get("Content-Type") != "text/plain; charset=utf-8" || res.body != f.logs[1] {
		t.Errorf("GET /jobs/1/log: %d %q\n%s", res.code, res.header.Get("Content-Type"), res.body)
	}
	calls := f.logsCalls()
	if c := calls[len(calls)-1]; c.task == nil || *c.task != 0 || c.opts.Follow || c.opts.Tail != 0 {
		t.Errorf("Logs call %+v, want task 0, the whole log, not following", c)
	}
	res = get(t, newDashboard(f, ""), "/jobs/1/log?rank=0")
	if res.body != "(task, pid=1) "+logXSS+"\n" {
		t.Errorf("GET /jobs/1/log?rank=0 = %q, want the rank-0 line", res.body)
	}
}
