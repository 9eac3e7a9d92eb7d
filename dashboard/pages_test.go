package dashboard_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
)

func TestPoolsPage(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.pools = []api.Pool{{
		Name: "batch", Status: api.PoolReady, Version: 2, Workers: 2, Ready: 2, Busy: 1, Requested: "1x [m6i.large]",
		Choice: &catalog.Choice{Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large",
			VCPUs: 2, MemoryGB: 8}, Spot: true},
		CostPerHour: 0.07, PendingJobs: 3, RunningJobs: 1,
		Worker: []api.Worker{
			{ID: 40, Status: api.WorkerBusy, Version: 2, Job: 55, Node: "ip-10-0-0-9", Infra: "aws/us-east-1", Instance: "m6i.large",
				Spot: true, CostPerHour: 0.035, ReadyAt: tp(now.Add(-time.Hour)), Replaced: 1},
			{ID: 41, Status: api.WorkerFailed, Version: 2, SetupExitCode: ip(2)},
		},
	}}
	body := get(t, newDashboard(f, ""), "/pools").body
	for _, want := range []string{
		`<h2>batch <span class="badge pool-READY">READY</span></h2>`,
		`<dd>2 ready of 2 asked, 1 busy</dd>`,
		`<dd>aws m6i.large in us-east-1: 2 vCPUs, 8 GB, spot</dd>`,
		`<dd>$0.0700/h</dd>`,
		`<a href="/?pool=batch&amp;status=active">3 pending, 1 running</a>`,
		`<tr data-worker-id="40"><td class="num">40</td><td><span class="badge worker-BUSY">BUSY</span></td><td class="num">2</td><td><a href="/jobs/55">job 55</a></td><td>ip-10-0-0-9</td><td>aws/us-east-1</td><td>m6i.large</td><td>spot</td><td class="num">$0.0350/h</td><td>2025-03-14 11:00:00 UTC</td><td class="num">1</td><td class="num">-</td><td><a href="/jobs/40/log">setup log</a></td></tr>`,
		`<td class="num">2</td><td><a href="/jobs/41/log">setup log</a></td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the pools page lacks %s", want)
		}
	}
	if body := get(t, newDashboard(newFake(), ""), "/pools").body; !strings.Contains(body, "No pool.") {
		t.Errorf("no empty state without pools")
	}
}

func TestCapacityPage(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.capacity = api.Capacity{
		Offerings: []api.OfferingUse{{Class: "sky-aws-us-east-1-m6i.large-spot", Infra: "aws/us-east-1", Instance: "m6i.large", Spot: true, Demand: 3, CostPerHour: 0.035}},
		Nodes: []api.Node{
			{Name: "ip-1", Class: "sky-aws-us-east-1-m6i.large-spot", Status: "ready", Spot: true, Link: "http://nomad.example:4646/ui/clients/1"},
			{Name: "ip-2", Status: "initializing"},
			{Name: "ip-3", Status: "down", Drain: true},
		},
		Errors: []api.CapacityError{{At: now, JobID: 9, Task: 0, Cloud: "aws", Region: "us-east-1", Instance: "p3.2xlarge", Spot: true, Reason: "InsufficientInstanceCapacity"}},
	}
	body := get(t, newDashboard(f, ""), "/capacity").body
	for _, want := range []string{
		`engine: <b>nomad</b>`,
		`<tr><td>sky-aws-us-east-1-m6i.large-spot</td><td>aws/us-east-1</td><td>m6i.large</td><td>spot</td><td class="num">3</td><td class="num">$0.0350/h</td></tr>`,
		`<p id="node-counts">1 booting, 1 ready, 1 down</p>`,
		`<a href="http://nomad.example:4646/ui/clients/1" rel="noopener" target="_blank">open</a>`,
		`<span class="node-initializing">booting</span>`,
		`<td>draining</td>`,
		`<td><a href="/jobs/9">job 9</a> <span class="muted">task 0</span></td><td>aws</td><td>us-east-1</td><td>p3.2xlarge</td><td>spot</td><td class="failure">InsufficientInstanceCapacity</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the capacity page lacks %s", want)
		}
	}
	local := newFake()
	local.engine = "local"
	body = get(t, newDashboard(local, ""), "/capacity").body
	if !strings.Contains(body, "The local engine runs every job on this host.") {
		t.Errorf("the local engine's capacity page does not say it runs on this host:\n%s", body)
	}
}

func TestCostPage(t *testing.T) {
	t.Parallel()
	js := []api.Job{
		job(5, "cheap", "alice", api.StatusSucceeded, time.Hour),
		job(4, "big", "bob", api.StatusRunning, time.Hour),
		job(3, "local", "bob", api.StatusSucceeded, time.Hour), // no cost
		job(2, "on-demand", "carol", api.StatusSucceeded, time.Hour),
		job(1, "mid", "alice", api.StatusFailed, time.Hour),
	}
	js[0].Cost = &api.Cost{Spent: 0.12346, OnDemand: 0.5, Savings: 0.37654}
	js[1].Cost = &api.Cost{Spent: 40, OnDemand: 120, Savings: 80}
	js[3].Cost = &api.Cost{Spent: 3, OnDemand: 3, Savings: 0}
	js[4].Cost = &api.Cost{Spent: 3, OnDemand: 9, Savings: 6}
	d := newDashboard(newFake(js...), "")
	body := get(t, d, "/cost").body
	ids := regexp.MustCompile(`<tr data-job-id="(\d+)">`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, m := range ids {
		got = append(got, m[1])
	}
	if diff := cmp.Diff([]string{"4", "2", "1", "5"}, got); diff != "" {
		t.Errorf("cost rows (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		`<div><dt>Spent</dt><dd>$46.12</dd></div>`,
		`<div><dt>On demand would be</dt><dd>$132.50</dd></div>`,
		`<div><dt>Saved</dt><dd>$86.38 (65.2%)</dd></div>`,
		`<div><dt>Jobs with a cost</dt><dd>4</dd></div>`,
		`<td class="num spent">$0.1235</td><td class="num">$0.5000</td><td class="num savings">$0.3765</td><td class="num">75.3%</td>`,
		`<tr data-job-id="2"><td class="id"><a href="/jobs/2">2</a></td><td>on-demand</td><td>carol</td><td class="status"><span class="badge s-succeeded">SUCCEEDED</span></td><td class="num spent">$3.00</td><td class="num">$3.00</td><td class="num savings">$0.0000</td><td class="num">0%</td></tr>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the cost page lacks %s", want)
		}
	}
	// Paged like the jobs page.
	body = get(t, d, "/cost?size=2&page=2").body
	if !strings.Contains(body, "showing 3–4 of 4") || !strings.Contains(body, `<a rel="prev" href="/cost?size=2">`) || strings.Contains(body, `<tr data-job-id="4">`) {
		t.Errorf("page 2 of 2 rows:\n%s", body)
	}
	if res := get(t, d, "/cost?page=zero"); res.code != http.StatusBadRequest {
		t.Errorf("GET /cost?page=zero: %d", res.code)
	}
	if body := get(t, newDashboard(newFake(js[2]), ""), "/cost").body; !strings.Contains(body, "No job has a cost") {
		t.Errorf("no empty state without costs")
	}
}

func TestLayoutStaticAndNotFound(t *testing.T) {
	t.Parallel()
	d := newDashboard(tenJobs(), "")
	body := get(t, d, "/pools").body
	for _, want := range []string{
		`<meta name="color-scheme" content="light dark">`,
		`<a href="/pools" aria-current="page">Pools</a>`,
		`<a href="/capacity">Capacity</a>`,
		`engine: <b>nomad</b>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the layout lacks %s", want)
		}
	}
	css := regexp.MustCompile(`<link rel="stylesheet" href="(/static/dashboard\.css\?v=[0-9a-f]+)">`).FindStringSubmatch(body)
	js := regexp.MustCompile(`<script src="(/static/dashboard\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(body)
	if css == nil || js == nil {
		t.Fatalf("the layout links no versioned CSS or script:\n%s", body)
	}
	for path, ctype := range map[string]string{css[1]: "text/css; charset=utf-8", js[1]: "text/javascript; charset=utf-8"} {
		res := get(t, d, path)
		if res.code != http.StatusOK || res.header.Get("Content-Type") != ctype || len(res.body) < 500 ||
			res.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d %q %q, %d bytes", path, res.code, res.header.Get("Content-Type"), res.header.Get("Cache-Control"), len(res.body))
		}
	}
	for path, code := range map[string]int{
		"/static/nope.js":    http.StatusNotFound,
		"/nowhere":           http.StatusNotFound,
		"/jobs/12/elsewhere": http.StatusNotFound,
		"/v2/jobs":           http.StatusNotFound,
	} {
		res := get(t, d, path)
		if res.code != code || !strings.Contains(res.body, "<h1>404 Not Found</h1>") {
			t.Errorf("GET %s: %d, want the %d page:\n%s", path, res.code, code, res.body)
		}
	}
}
