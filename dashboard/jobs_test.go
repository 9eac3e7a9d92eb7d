package dashboard_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/jobs/api"
)

// tenJobs is a small queue, newest first.
func tenJobs() *fakeBackend {
	js := []api.Job{
		job(10, "train-llama", "alice", api.StatusRunning, 10*time.Minute),
		job(9, "Eval-Sweep", "bob", api.StatusSucceeded, time.Hour),
		job(8, "etl", "alice", api.StatusFailed, 2*time.Hour),
		job(7, "TRAIN-small", "carol", api.StatusPending, 3*time.Hour),
		job(6, "serve", "bob", api.StatusRunning, 4*time.Hour),
		job(5, "job-17", "alice", api.StatusFailedSetup, 5*time.Hour),
		job(4, "backup", "dave", api.StatusCancelled, 6*time.Hour),
		job(3, "train-old", "alice", api.StatusSucceeded, 7*time.Hour),
		job(2, "ingest", "bob", api.StatusRecovering, 8*time.Hour),
		job(1, "hello", "alice", api.StatusSucceeded, 9*time.Hour),
	}
	js[0].Pool, js[3].Pool = "gpu", "gpu"
	js[0].Recoveries, js[7].Recoveries = 2, 1
	for i, spent := range map[int]float64{0: 5, 1: 0.5, 4: 12, 6: 1, 7: 3} {
		js[i].Cost = &api.Cost{Spent: spent, OnDemand: spent * 2, Savings: spent}
	}
	js[2].FailureReason = "run exited with code 1"
	return newFake(js...)
}

// jobsTable returns the rows' job ids of the jobs table, in order.
var rowRE = regexp.MustCompile(`<tr data-job-id="(\d+)" data-status="([A-Z_]+)">`)

func rowIDs(t *testing.T, body string) []int64 {
	t.Helper()
	start := strings.Index(body, `<table id="jobs"`)
	if start < 0 {
		t.Fatalf("no jobs table in:\n%s", body)
	}
	table := body[start:]
	table = table[:strings.Index(table, "</table>")]
	ids := []int64{}
	for _, m := range rowRE.FindAllStringSubmatch(table, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

func TestJobsPageFiltersSortsAndPages(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"status=RUNNING", []int64{10, 6}},
		{"status=RUNNING&status=PENDING", []int64{10, 7, 6}},
		{"status=active", []int64{10, 7, 6, 2}},
		{"status=failed", []int64{8, 5}},
		{"status=failed&status=CANCELLED", []int64{8, 5, 4}},
		{"status=", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"q=train", []int64{10, 7, 3}},
		{"q=TRAIN", []int64{10, 7, 3}},
		{"q=7", []int64{7, 5}}, // id 7, and job-17 by name
		{"q=nothing-like-it", []int64{}},
		{"user=bob", []int64{9, 6, 2}},
		{"pool=gpu", []int64{10, 7}},
		{"user=alice&status=failed", []int64{8, 5}},
		{"sort=name", []int64{4, 8, 9, 1, 2, 5, 6, 10, 3, 7}},
		{"sort=name&dir=desc", []int64{7, 3, 10, 6, 5, 2, 1, 9, 8, 4}},
		{"sort=cost", []int64{6, 10, 3, 4, 9, 8, 7, 5, 2, 1}},
		{"sort=cost&dir=asc", []int64{8, 7, 5, 2, 1, 9, 4, 3, 10, 6}},
		{"sort=status", []int64{7, 10, 6, 2, 9, 3, 1, 4, 8, 5}},
		{"sort=recoveries", []int64{10, 3, 9, 8, 7, 6, 5, 4, 2, 1}},
		{"sort=submitted&dir=asc", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"sort=duration", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"sort=user&status=RUNNING", []int64{10, 6}},
		{"dir=asc", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"size=3", []int64{10, 9, 8}},
		{"size=3&page=2", []int64{7, 6, 5}},
		{"size=3&page=4", []int64{1}},
		{"size=3&page=99", []int64{1}}, // past the end: the last page
		{"size=3&page=2&status=active", []int64{2}},
		{"size=100000", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := get(t, d, "/?"+tc.query)
			if res.code != http.StatusOK {
				t.Fatalf("GET /?%s: %d\n%s", tc.query, res.code, res.body)
			}
			if diff := cmp.Diff(tc.want, rowIDs(t, res.body)); diff != "" {
				t.Errorf("GET /?%s rows (-want +got):\n%s", tc.query, diff)
			}
		})
	}
}

func TestJobsPageRefusesBadParameters(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	for _, tc := range []struct{ query, says string }{
		{"status=BOGUS", "use one of active, failed or PENDING"},
		{"sort=nope", "use one of id, name, user, status, submitted, duration, recoveries, cost"},
		{"dir=up", "use asc or desc"},
		{"page=0", "page &#34;0&#34; is not a page number"},
		{"page=x", "not a page number"},
		{"size=-1", "not a number of rows"},
	} {
		res := get(t, d, "/?"+tc.query)
		if res.code != http.StatusBadRequest || !strings.Contains(res.body, tc.says) {
			t.Errorf("GET /?%s: %d, want 400 saying %q:\n%s", tc.query, res.code, tc.says, res.body)
		}
	}
}

func TestJobsPageRowShowsTheQueueColumns(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	body := get(t, d, "/?status=FAILED").body
	row := between(t, body, `<tr data-job-id="8" data-status="FAILED">`, "</tr>")
	for _, want := range []string{
		`<a href="/jobs/8">etl</a>`,
		`<div class="details" title="run exited with code 1">run exited with code 1</div>`,
		`<td class="user">alice</td>`,
		`<td class="pool">-</td>`,
		`<td class="requested">1x [m6i.large]</td>`,
		`<span title="2025-03-14 10:00:00 UTC">2 hrs ago</span>`,
		`<td class="duration">2h 0m 0s</td>`,
		`<td class="duration">1h 59m 0s</td>`,
		`<td class="num recoveries">0</td>`,
		`<td class="status"><span class="badge s-failed">FAILED</span></td>`,
		`<td class="num cost"></td>`, // no cost: blank
	} {
		if !strings.Contains(row, want) {
			t.Errorf("the row of job 8 lacks %s:\n%s", want, row)
		}
	}
	row = between(t, get(t, d, "/").body, `<tr data-job-id="6" `, "</tr>")
	if !strings.Contains(row, `<td class="num cost">$12.00</td>`) {
		t.Errorf("the row of job 6 does not show its cost $12.00:\n%s", row)
	}
}

func TestJobsPageCountsAndPagingLinksKeepTheFilter(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	body := get(t, d, "/?user=alice&size=2&page=2").body
	counts := between(t, body, `<nav id="counts"`, "</nav>")
	for _, want := range []string{
		`<a class="count " href="/?size=2&amp;user=alice" aria-current="true"><span class="label">All</span> <b>5</b></a>`,
		`<a class="count " href="/?size=2&amp;status=active&amp;user=alice"><span class="label">Active</span> <b>1</b></a>`,
		`<a class="count " href="/?size=2&amp;status=failed&amp;user=alice"><span class="label">Failed</span> <b>2</b></a>`,
		`<a class="count s-running" href="/?size=2&amp;status=RUNNING&amp;user=alice"><span class="label">RUNNING</span> <b>1</b></a>`,
		`<span class="label">SUCCEEDED</span> <b>2</b>`,
		`<span class="label">FAILED_SETUP</span> <b>1</b>`,
	} {
		if !strings.Contains(counts, want) {
			t.Errorf("counts lack %s:\n%s", want, counts)
		}
	}
	if strings.Contains(counts, "CANCELLED") {
		t.Errorf("counts show CANCELLED, which no job of alice is:\n%s", counts)
	}
	paging := between(t, body, `<nav class="paging"`, "</nav>")
	for _, want := range []string{
		`<a rel="prev" href="/?size=2&amp;user=alice">`,
		`showing 3–4 of 5`,
		`<a rel="next" href="/?page=3&amp;size=2&amp;user=alice">`,
	} {
		if !strings.Contains(paging, want) {
			t.Errorf("paging lacks %s:\n%s", want, paging)
		}
	}
	// The counts fragment is the same nav, for the same filter.
	frag := get(t, d, "/jobs/counts?user=alice&size=2")
	if frag.code != http.StatusOK || !strings.HasPrefix(frag.body, `<nav id="counts"`) || !strings.Contains(frag.body, `<span class="label">All</span> <b>5</b>`) {
		t.Errorf("GET /jobs/counts: %d\n%s", frag.code, frag.body)
	}
	// Clicking a column sorts by it; clicking it again turns it around.
	head := between(t, get(t, d, "/?sort=name").body, "<thead>", "</thead>")
	if !strings.Contains(head, `<th scope="col" aria-sort="ascending"><a href="/?dir=desc&amp;sort=name">Name ▲</a></th>`) {
		t.Errorf("the Name header does not link the other direction:\n%s", head)
	}
}

func TestRowFragment(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	res := get(t, d, "/jobs/10/row?status=active&sort=name")
	if res.code != http.StatusOK || !strings.HasPrefix(res.body, `<tr data-job-id="10" data-status="RUNNING">`) || !strings.HasSuffix(res.body, "</tr>") {
		t.Errorf("GET /jobs/10/row: %d\n%s", res.code, res.body)
	}
	// The same row as in the table.
	table := get(t, d, "/").body
	if !strings.Contains(table, res.body) {
		t.Errorf("the fragment differs from the table's row:\n%s", res.body)
	}
	for target, code := range map[string]int{
		"/jobs/10/row?status=SUCCEEDED": http.StatusNoContent,
		"/jobs/10/row?user=bob":         http.StatusNoContent,
		"/jobs/10/row?q=serve":          http.StatusNoContent,
		"/jobs/10/row?status=failed":    http.StatusNoContent,
		"/jobs/8/row?status=failed":     http.StatusOK,
		"/jobs/99/row":                  http.StatusNotFound,
		"/jobs/abc/row":                 http.StatusBadRequest,
		"/jobs/0/row":                   http.StatusBadRequest,
		"/jobs/-3/row":                  http.StatusBadRequest,
		"/jobs/8/row?status=NOPE":       http.StatusBadRequest,
	} {
		if res := get(t, d, target); res.code != code {
			t.Errorf("GET %s: %d, want %d\n%s", target, res.code, code, res.body)
		}
	}
	if body := get(t, d, "/jobs/10/row?status=SUCCEEDED").body; body != "" {
		t.Errorf("a 204 has a body: %q", body)
	}
}

// histTitle is one histogram segment's tooltip: "<bucket>: N STATUS".
var histTitle = regexp.MustCompile(`<title>[^<]*: (\d+) ([A-Z_]+)</title>`)

func TestStatusHistogram(t *testing.T) {
	t.Parallel()
	all := manyJobs(2000) // over two days
	d := newDashboard(newFake(all...), "")
	for _, tc := range []struct {
		query    string
		want     map[string]int
		min, max int // bars
	}{
		{query: "", min: 24, max: 48},
		{query: "status=failed", min: 24, max: 48},
		{query: "q=1999", want: map[string]int{}, min: 1, max: 1}, // one job: one bar
	} {
		body := get(t, d, "/?"+tc.query).body
		svg := between(t, body, `<svg id="status-histogram"`, "</svg>")
		got := map[string]int{}
		for _, m := range histTitle.FindAllStringSubmatch(svg, -1) {
			n, _ := strconv.Atoi(m[1])
			got[m[2]] += n
		}
		want := map[string]int{}
		for _, j := range all {
			if tc.query == "" || (tc.query == "status=failed" && j.Status.Failed()) || (tc.query == "q=1999" && j.ID == 1999) {
				want[string(j.Status)]++
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET /?%s: jobs per status in the histogram (-want +got):\n%s", tc.query, diff)
		}
		if bars := strings.Count(svg, `<g class="bar">`); bars < tc.min || bars > tc.max {
			t.Errorf("GET /?%s: %d bars, want %d to %d", tc.query, bars, tc.min, tc.max)
		}
	}
	// No job listed: no chart.
	if body := get(t, d, "/?q=no-such-job").body; strings.Contains(body, "status-histogram") {
		t.Errorf("a histogram of no jobs")
	}
}

// between returns body from the first from to the following to.
func between(t *testing.T, body, from, to string) string {
	t.Helper()
	i := strings.Index(body, from)
	if i < 0 {
		t.Fatalf("%q not in:\n%s", from, body)
	}
	j := strings.Index(body[i:], to)
	if j < 0 {
		t.Fatalf("%q not after %q in:\n%s", to, from, body)
	}
	return body[i : i+j+len(to)]
}
