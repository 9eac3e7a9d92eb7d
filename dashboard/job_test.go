package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
)

// spotJob is job 12: a two-task pipeline whose first task was preempted
// once and runs its second attempt on two nodes.
func spotJob() *fakeBackend {
	j := job(12, "train-spot", "alice", api.StatusRunning, 2*time.Hour)
	j.Pipeline = true
	j.Recoveries = 1
	j.Cost = &api.Cost{Spent: 2.5, OnDemand: 7.5, Savings: 5}
	j.Tasks = []api.Task{
		{Index: 0, Name: "train", Status: api.StatusRunning, Requested: "2x [V100:8][Spot]", Infra: "aws/us-west-2",
			Instance: "p3.16xlarge", Spot: true, Recoveries: 1, Cost: &api.Cost{Spent: 2.5, OnDemand: 7.5, Savings: 5}},
		{Index: 1, Name: "eval", Status: api.StatusPending, Requested: "1x [V100:1]"},
	}
	detail := api.JobDetail{
		Job: j,
		Attempts: []api.Attempt{
			{Task: 0, Number: 1, Infra: "aws/us-east-1", Instance: "p3.16xlarge", Zones: []string{"us-east-1a", "us-east-1b"},
				Spot: true, Node: "ip-10-0-0-1", CreatedAt: now.Add(-2 * time.Hour), PlacedAt: tp(now.Add(-115 * time.Minute)),
				RunAt: tp(now.Add(-114 * time.Minute)), EndedAt: tp(now.Add(-time.Hour)), Outcome: "preempted", ExitCode: ip(143),
				Cost:  &api.Cost{Spent: 1, OnDemand: 3, Savings: 2},
				Links: []api.Link{{Title: "Nomad allocation 3f2a", URL: "http://nomad.example:4646/ui/allocations/3f2a"}}},
			{Task: 0, Number: 2, Infra: "aws/us-west-2", Instance: "p3.16xlarge", Zones: []string{"us-west-2a"},
				Spot: true, Node: "ip-10-1-0-7", CreatedAt: now.Add(-59 * time.Minute), PlacedAt: tp(now.Add(-50 * time.Minute)),
				RunAt: tp(now.Add(-49 * time.Minute)), Cost: &api.Cost{Spent: 1.5, OnDemand: 4.5, Savings: 3}},
		},
		Timeline: []api.Change{
			{At: now.Add(-2 * time.Hour), Task: 0, Status: api.StatusStarting, Attempt: 1},
			{At: now.Add(-114 * time.Minute), Task: 0, Status: api.StatusRunning, Attempt: 1},
			{At: now.Add(-time.Hour), Task: 0, Status: api.StatusRecovering, Attempt: 1, Note: "spot instance reclaimed"},
			{At: now.Add(-49 * time.Minute), Task: 0, Status: api.StatusRunning, Attempt: 2},
		},
		Links: []api.Link{{Title: "Nomad job sky-12-0", URL: "http://nomad.example:4646/ui/jobs/sky-12-0"}},
	}
	f := newFake(j)
	f.details[12] = detail
	var log strings.Builder
	log.WriteString("(setup pid=3) installing\n")
	for i := 1; i <= 300; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&log, "(train, pid=7) line %d\n", i)
		} else {
			fmt.Fprintf(&log, "(worker1, rank=1, pid=9) line %d\n", i)
		}
	}
	f.logs[12] = log.String()
	f.ctlLogs[12] = "12:00:00 job 12 submitted\n12:00:05 task 0 attempt 1 launched on aws/us-east-1\n"
	return f
}

// preText is the text of the <pre> with the id, unescaped.
func preText(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<pre id="` + id + `"[^>]*>(.*?)</pre>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <pre id=%q> in:\n%s", id, body)
	}
	return htmlUnescape(m[1])
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

func TestJobPage(t *testing.T) {
	t.Parallel()
	f := spotJob()
	d := newDashboard(f, "s3cret")
	res := get(t, d, "/jobs/12")
	if res.code != http.StatusOK {
		t.Fatalf("GET /jobs/12: %d\n%s", res.code, res.body)
	}
	body := res.body
	for _, want := range []string{
		`<span id="job-status" class="badge s-running">RUNNING</span>`,
		`<span class="muted">Job 12</span> <span id="job-name">train-spot</span>`,
		`<dt>User</dt><dd>alice</dd>`,
		`<dt>Kind</dt><dd>pipeline</dd>`,
		`<dt>Submitted</dt><dd>2025-03-14 10:00:00 UTC <span class="muted">(2 hrs ago)</span></dd>`,
		`<dt>Ended</dt><dd>-</dd>`,
		`<span class="spent">$2.50</span> spent · $7.50 on demand · saved <span class="savings">$5.00</span> (66.7%)`,
		`<a href="http://nomad.example:4646/ui/jobs/sky-12-0" rel="noopener" target="_blank">Nomad job sky-12-0</a>`,
		// the cancel form, with the secret
		`<form id="cancel" method="post" action="/jobs/12/cancel"><input type="hidden" name="csrf" value="s3cret"><button type="submit" class="danger">Cancel job</button></form>`,
		// tasks
		`<tr data-task="0"><td class="num">0</td><td>train</td><td class="status"><span class="badge s-running">RUNNING</span></td><td>2x [V100:8][Spot]</td><td>aws/us-west-2</td><td>p3.16xlarge</td><td>spot</td><td class="num">1</td><td class="num">0</td><td class="num">-</td><td class="failure"></td><td class="num cost">$2.50</td></tr>`,
		`<tr data-task="1"><td class="num">1</td><td>eval</td><td class="status"><span class="badge s-pending">PENDING</span></td><td>1x [V100:1]</td><td>-</td><td>-</td><td>-</td>`,
		// attempts
		`<tr data-task="0" data-attempt="1"><td class="num">0</td><td class="num">1</td><td>aws/us-east-1</td><td>p3.16xlarge</td><td>us-east-1a, us-east-1b</td><td>spot</td><td>ip-10-0-0-1</td><td>2025-03-14 10:00:00 UTC</td><td>2025-03-14 10:05:00 UTC</td><td>2025-03-14 10:06:00 UTC</td><td>2025-03-14 11:00:00 UTC</td><td class="outcome"><span class="outcome-tag o-preempted">preempted</span></td><td class="num">143</td><td class="num cost">$1.00</td><td><a href="http://nomad.example:4646/ui/allocations/3f2a" rel="noopener" target="_blank">Nomad allocation 3f2a</a></td></tr>`,
		`<td>2025-03-14 11:11:00 UTC</td><td>-</td><td class="outcome"><span class="outcome-tag o-live">live</span></td><td class="num">-</td><td class="num cost">$1.50</td>`,
		// changes
		`<tr><td>2025-03-14 11:00:00 UTC</td><td class="num">0</td><td class="status"><span class="badge s-recovering">RECOVERING</span></td><td class="num">1</td><td>spot instance reclaimed</td></tr>`,
		// the log's links
		`<a href="/jobs/12?task=1">task 1: eval</a>`,
		`<a href="/jobs/12?rank=1">rank 1</a>`,
		`<a href="/jobs/12/log">whole log as text</a>`,
		`data-stream="/jobs/12/logs/stream"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the job page lacks %s", want)
		}
	}

	// The timeline: a lane per task, both attempts, the preemption.
	svg := between(t, body, `<svg id="timeline"`, "</svg>")
	if n := strings.Count(svg, `<text class="lane-label"`); n != 2 {
		t.Errorf("%d lanes, want 2 (one per task)", n)
	}
	bars := regexp.MustCompile(`<rect class="bar ([a-z_-]+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"`).FindAllStringSubmatch(svg, -1)
	var classes []string
	for _, b := range bars {
		classes = append(classes, b[1])
	}
	if diff := cmp.Diff([]string{"tl-launching", "o-preempted", "tl-launching", "o-live"}, classes); diff != "" {
		t.Errorf("timeline bars (-want +got):\n%s", diff)
	}
	if len(bars) == 4 {
		x, _ := strconv.ParseFloat(bars[3][2], 64)
		w, _ := strconv.ParseFloat(bars[3][3], 64)
		if end := x + w; end < 949 || end > 951 {
			t.Errorf("the live attempt's bar ends at x=%.1f, want the chart's right edge (now, 950)", end)
		}
	}
	var ticks []string
	for _, m := range regexp.MustCompile(`<text class="axis"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1) {
		ticks = append(ticks, m[1])
	}
	if diff := cmp.Diff([]string{"10:00:00", "10:30:00", "11:00:00", "11:30:00", "12:00:00"}, ticks); diff != "" {
		t.Errorf("time axis from submission to now (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`<polygon class="preempted-marker" points="[^"]+"><title>preempted: attempt 1 of task 0 at 2025-03-14 11:00:00 UTC</title></polygon>`).MatchString(svg) {
		t.Errorf("no preemption marker at the end of attempt 1:\n%s", svg)
	}

	// The log: the last 200 lines, read without following.
	lines := strings.Split(preText(t, body, "log"), "\n")
	if len(lines) != 200 || lines[0] != "(train, pid=7) line 101" && lines[0] != "(worker1, rank=1, pid=9) line 101" || lines[199] != "(train, pid=7) line 300" {
		t.Errorf("the log shows %d lines from %q to %q, want the last 200 (line 101 to line 300)", len(lines), lines[0], lines[len(lines)-1])
	}
	if got := preText(t, body, "controller-log"); got != strings.TrimSuffix(f.ctlLogs[12], "\n") {
		t.Errorf("the controller log reads %q", got)
	}
	calls := f.logsCalls()
	if len(calls) != 1 || calls[0].id != 12 || calls[0].task != nil || calls[0].opts != (engine.LogOptions{Tail: 200}) {
		t.Errorf("Logs calls %+v, want one for job 12, every task, Tail 200, not following", calls)
	}
}

func TestJobPageLogSelection(t *testing.T) {
	t.Parallel()
	f := spotJob()
	d := newDashboard(f, "")

	// rank=1: the worker's lines only.
	body := get(t, d, "/jobs/12?rank=1").body
	lines := strings.Split(preText(t, body, "log"), "\n")
	if len(lines) != 150 {
		t.Errorf("rank 1 shows %d lines, want its 150", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "(worker1, rank=1, pid=9) ") {
			t.Errorf("rank 1 shows %q", l)
			break
		}
	}
	if !strings.Contains(body, `data-stream="/jobs/12/logs/stream?rank=1"`) || !strings.Contains(body, `<a href="/jobs/12?rank=1" aria-current="true">rank 1</a>`) {
		t.Errorf("the page does not keep rank 1 for its stream and links")
	}
	// rank=0: the task's own lines, not the setup ones.
	lines = strings.Split(preText(t, get(t, d, "/jobs/12?rank=0").body, "log"), "\n")
	if len(lines) != 150 || lines[0] != "(train, pid=7) line 2" {
		t.Errorf("rank 0 shows %d lines from %q, want 150 from line 2", len(lines), lines[0])
	}
	// task=1
	get(t, d, "/jobs/12?task=1")
	calls := f.logsCalls()
	last := calls[len(calls)-1]
	if last.task == nil || *last.task != 1 {
		t.Errorf("task=1 read the log of task %v", last.task)
	}

	for target, code := range map[string]int{
		"/jobs/12?task=2":  http.StatusBadRequest,
		"/jobs/12?task=-1": http.StatusBadRequest,
		"/jobs/12?rank=x":  http.StatusBadRequest,
		"/jobs/99":         http.StatusNotFound,
		"/jobs/abc":        http.StatusBadRequest,
		"/jobs/0":          http.StatusBadRequest,
	} {
		if res := get(t, d, target); res.code != code {
			t.Errorf("GET %s: %d, want %d", target, res.code, code)
		}
	}
}

func TestJobPageOfAFinishedJobHasNoCancel(t *testing.T) {
	t.Parallel()
	f := newFake(job(3, "done", "bob", api.StatusSucceeded, time.Hour))
	f.logs[3] = "bye\n"
	body := get(t, newDashboard(f, ""), "/jobs/3").body
	if strings.Contains(body, `id="cancel"`) {
		t.Errorf("a SUCCEEDED job can be cancelled")
	}
	for _, want := range []string{`<span id="job-status" class="badge s-succeeded">SUCCEEDED</span>`, `<p class="empty">Nothing ran yet.</p>`, `<td colspan="15">No attempt yet.</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestJobPageSurvivesASlowEngine(t *testing.T) {
	t.Parallel()
	f := spotJob()
	f.logsFunc = func(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go pw.Write([]byte("(train, pid=7) first line\n")) // then nothing, ever
		return pr, nil
	}
	start := time.Now()
	res := get(t, newDashboard(f, ""), "/jobs/12")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the page took %s", took)
	}
	if res.code != http.StatusOK || !strings.Contains(res.body, "The log did not finish within 3s") ||
		preText(t, res.body, "log") != "(train, pid=7) first line" {
		t.Errorf("GET /jobs/12 with a hanging log: %d\n%s", res.code, res.body)
	}
}

func TestSummaryFragment(t *testing.T) {
	t.Parallel()
	f := spotJob()
	d := newDashboard(f, "")
	res := get(t, d, "/jobs/12/summary")
	if res.code != http.StatusOK || !strings.HasPrefix(res.body, `<section id="summary" data-status="RUNNING">`) ||
		!strings.Contains(res.body, `<span id="job-status" class="badge s-running">RUNNING</span>`) {
		t.Fatalf("GET /jobs/12/summary: %d\n%s", res.code, res.body)
	}
	// The page holds the same fragment.
	if page := get(t, d, "/jobs/12").body; !strings.Contains(page, res.body) {
		t.Errorf("the page's summary differs from the fragment")
	}
	if res := get(t, d, "/jobs/404/summary"); res.code != http.StatusNotFound {
		t.Errorf("GET /jobs/404/summary: %d", res.code)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		csrf     string // the dashboard's
		form     url.Values
		header   http.Header
		err      error
		code     int
		cancels  int
		location string
		says     string
	}{
		{name: "right token", csrf: "s3cret", form: url.Values{"csrf": {"s3cret"}}, code: http.StatusSeeOther, cancels: 1, location: "/jobs/12"},
		{name: "wrong token", csrf: "s3cret", form: url.Values{"csrf": {"guess"}}, code: http.StatusForbidden, says: "CSRF token is missing or wrong"},
		{name: "no token", csrf: "s3cret", form: url.Values{}, code: http.StatusForbidden, says: "CSRF token is missing or wrong"},
		{name: "no token configured", form: url.Values{}, code: http.StatusSeeOther, cancels: 1, location: "/jobs/12"},
		{name: "cross-site", csrf: "s3cret", form: url.Values{"csrf": {"s3cret"}}, header: http.Header{"Sec-Fetch-Site": {"cross-site"}},
			code: http.StatusForbidden, says: "Cross-origin form posts are refused"},
		{name: "controller refuses", csrf: "s3cret", form: url.Values{"csrf": {"s3cret"}}, err: errors.New("job 12 is <b>already</b> done"),
			code: http.StatusInternalServerError, cancels: 1, says: "Cancelling job 12 failed: job 12 is &lt;b&gt;already&lt;/b&gt; done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := spotJob()
			f.cancelErr = tc.err
			d := newDashboard(f, tc.csrf)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/jobs/12/cancel", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header[k] = v
			}
			d.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("POST: %d, want %d\n%s", rec.Code, tc.code, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if !strings.Contains(rec.Body.String(), tc.says) {
				t.Errorf("the answer does not say %q:\n%s", tc.says, rec.Body)
			}
			cancels := f.cancels()
			if len(cancels) != tc.cancels {
				t.Fatalf("Cancel called %d times, want %d", len(cancels), tc.cancels)
			}
			if tc.cancels == 1 {
				if diff := cmp.Diff(api.CancelRequest{JobIDs: []int64{12}}, cancels[0]); diff != "" {
					t.Errorf("Cancel request (-want +got):\n%s", diff)
				}
			}
		})
	}
	d := newDashboard(spotJob(), "")
	if res := post(t, d, "/jobs/x/cancel", nil); res.code != http.StatusBadRequest {
		t.Errorf("POST /jobs/x/cancel: %d, want 400", res.code)
	}
	if res := get(t, d, "/jobs/12/cancel"); res.code == http.StatusSeeOther {
		t.Errorf("GET /jobs/12/cancel cancelled")
	}
}
