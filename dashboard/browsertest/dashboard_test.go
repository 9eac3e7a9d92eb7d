package browsertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/jobs/api"
)

// row is one row of the jobs table as the page shows it.
type row struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	StatusCell *string  `json:"statusCell"` // td.status's text; nil: no such cell
	Cells      []string `json:"cells"`      // every cell's text
	Elements   []string `json:"elements"`   // tags of the elements inside the row
}

// rowsJS reads the jobs table.
const rowsJS = `Array.from(document.querySelectorAll('table#jobs tbody tr[data-job-id][data-status]')).map(r => {
	const st = r.querySelector('td.status');
	return {
		id: r.dataset.jobId, status: r.dataset.status,
		statusCell: st ? st.textContent.trim() : null,
		cells: Array.from(r.cells).map(c => c.textContent.trim()),
		elements: Array.from(r.querySelectorAll('*')).map(e => e.tagName.toLowerCase()),
	};
})`

func rows(b *browser) []row {
	b.t.Helper()
	return evalJS[[]row](b, rowsJS)
}

// rowIDsJS is the ids of the table's rows, sorted, for a wait's expression.
const rowIDsJS = `Array.from(document.querySelectorAll('table#jobs tbody tr[data-job-id]')).map(r => r.dataset.jobId).sort().join(',')`

// idList is ids as rowIDsJS writes them.
func idList(ids ...int64) string {
	var s []string
	for _, id := range ids {
		s = append(s, strconv.FormatInt(id, 10))
	}
	slices.Sort(s) // as strings, as rowIDsJS does
	return strings.Join(s, ",")
}

// TestJobsPage: every status is shown for the right job, the filters keep
// what they say, and a job's name is shown as text, never run as markup.
func TestJobsPage(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	b.open("/")
	b.waitJS("the jobs table", `document.querySelectorAll('table#jobs tbody tr[data-job-id]').length > 0`, rowIDsJS)

	got := map[string]row{}
	for _, r := range rows(b) {
		got[r.ID] = r
	}
	shown := map[api.Status]bool{}
	for name, want := range w.want {
		id := strconv.FormatInt(w.id(name), 10)
		r, ok := got[id]
		if !ok {
			t.Errorf("job %s (%s, %s) has no row", id, name, want)
			continue
		}
		if r.Status != string(want) {
			t.Errorf("job %s (%s): data-status=%q, want %s", id, name, r.Status, want)
		}
		switch {
		case r.StatusCell == nil:
			t.Errorf("job %s (%s): the row has no td.status", id, name)
		case *r.StatusCell != string(want):
			t.Errorf("job %s (%s): td.status reads %q, want %s", id, name, *r.StatusCell, want)
		default:
			shown[want] = true
		}
	}
	for _, s := range api.AllStatuses {
		if !shown[s] {
			t.Errorf("no row shows status %s", s)
		}
	}

	// The job named <script>alert(1)</script> shows its name as text.
	xss := got[strconv.FormatInt(w.id(jobXSS), 10)]
	if !slices.Contains(xss.Cells, jobXSS) {
		t.Errorf("no cell of the row of job %q reads its name literally; cells: %q", jobXSS, xss.Cells)
	}
	if slices.Contains(xss.Elements, "script") {
		t.Errorf("the row of job %q holds a script element: %q", jobXSS, xss.Elements)
	}
	b.noDialogs()

	hist := evalJS[bool](b, `(() => { const h = document.querySelector('#status-histogram');
		return !!h && (h.tagName.toLowerCase() === 'svg' || !!h.querySelector('svg')); })()`)
	if !hist {
		t.Error("the jobs page has no #status-histogram svg")
	}

	// The filter form: status FAILED keeps the one FAILED job (not the
	// FAILED_* ones); q keeps the jobs whose name holds it; user keeps
	// that user's.
	for _, tc := range []struct {
		status, q, user string
		want            []int64
	}{
		{status: "FAILED", want: []int64{w.id(jobFailed)}},
		{q: "setup-br", want: []int64{w.id(jobSetupFailed)}},
		{user: "bob", want: []int64{w.id(jobFailed), w.id(jobServe)}},
		{status: "RUNNING", user: "alice", want: []int64{w.id(jobTrain)}},
	} {
		filter(b, tc.status, tc.q, tc.user)
		what := fmt.Sprintf("status=%q q=%q user=%q to keep only jobs %s", tc.status, tc.q, tc.user, idList(tc.want...))
		b.waitJS(what, rowIDsJS+` === `+js(idList(tc.want...)), rowIDsJS)
		if tc.status != "" {
			for _, r := range rows(b) {
				if r.Status != tc.status {
					t.Errorf("filtered on %s, job %s shows %s", tc.status, r.ID, r.Status)
				}
			}
		}
		t.Logf("filter status=%q q=%q user=%q: %s", tc.status, tc.q, tc.user, b.location())
	}
}

// filter fills the jobs page's form #filters and submits it.
func filter(b *browser, status, q, user string) {
	b.t.Helper()
	problem := evalJS[string](b, fmt.Sprintf(`((status, values) => {
		const f = document.querySelector('form#filters');
		if (!f) return 'the page has no form#filters';
		const st = f.querySelectorAll('[name=status]');
		if (st.length === 0) return 'form#filters has no field named status';
		for (const el of st) {
			if (el.tagName === 'SELECT') {
				for (const o of el.options) o.selected = o.value === status;
				if (status === '' && !el.multiple) el.value = '';
			} else if (el.type === 'checkbox' || el.type === 'radio') {
				el.checked = el.value === status;
			} else {
				el.value = status;
			}
		}
		for (const [name, v] of Object.entries(values)) {
			const el = f.querySelector('[name=' + name + ']');
			if (!el) return 'form#filters has no field named ' + name;
			el.value = v;
		}
		f.requestSubmit();
		return '';
	})(%s, {q: %s, user: %s, pool: ''})`, js(status), js(q), js(user)))
	if problem != "" {
		b.t.Fatal(problem)
	}
}

// TestJobsPageLiveUpdate: a job that changes in the controller changes in
// the open page, without a reload.
func TestJobsPageLiveUpdate(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	const path = "/?sort=id"
	b.open(path)
	w.streams.await(t, w.streams.started, b.base+path, "started")
	b.waitJS(jobStarting+" shown STARTING", rowStatus(w, jobStarting)+` === 'STARTING'`, rowIDsJS)
	evalJS[int](b, `window.__noReload = 1`)

	// Its launch returns: the engine places it; the pending job gets the
	// freed launch slot and is placed too.
	w.release(jobStarting, nil)
	w.waitFor(jobStarting, api.StatusRunning)
	b.waitJS(jobStarting+" shown RUNNING", rowStatus(w, jobStarting)+` === 'RUNNING'`, rowStatus(w, jobStarting))
	b.waitJS(jobPending+" no longer shown PENDING", rowStatus(w, jobPending)+` !== 'PENDING'`, rowStatus(w, jobPending))
	if cell := evalJS[string](b, `(`+rowOf(w, jobStarting)+`.querySelector('td.status')||{}).textContent.trim()`); cell != "RUNNING" {
		t.Errorf("%s: data-status is RUNNING but td.status reads %q", jobStarting, cell)
	}
	if !evalJS[bool](b, `window.__noReload === 1`) {
		t.Error("the jobs page reloaded to show the change")
	}
}

// TestJobsPageChangeBeforeLiveConnection: a job that changes after the
// page was sent and before its live connection started is shown changed
// too.
func TestJobsPageChangeBeforeLiveConnection(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	const path = "/?sort=id&dir=desc"
	w.streams.hold()
	b.open(path)
	w.streams.await(t, w.streams.arrived, b.base+path, "asked for")
	b.waitJS(jobStarting+" shown STARTING", rowStatus(w, jobStarting)+` === 'STARTING'`, rowIDsJS)

	w.release(jobStarting, nil)
	w.waitFor(jobStarting, api.StatusRunning)
	w.streams.pass()
	w.streams.await(t, w.streams.started, b.base+path, "started")
	b.waitJS(jobStarting+" shown RUNNING (it changed while the page's live connection was on its way)",
		rowStatus(w, jobStarting)+` === 'RUNNING'`, rowStatus(w, jobStarting))
}

// rowOf finds the named job's row in the jobs table (JavaScript).
func rowOf(w *world, name string) string {
	return fmt.Sprintf(`document.querySelector('table#jobs tbody tr[data-job-id="%d"]')`, w.id(name))
}

// rowStatus is the named job's row's data-status (JavaScript).
func rowStatus(w *world, name string) string {
	return `(` + rowOf(w, name) + `||{dataset:{}}).dataset.status`
}

// TestJobPage: the running job's page shows its status, its output as text
// and growing while it runs, its timeline and both its attempts.
func TestJobPage(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	id := w.id(jobTrain)
	b.open(fmt.Sprintf("/jobs/%d", id))
	b.waitJS("#job-status to read RUNNING", `(document.querySelector('#job-status')||{}).textContent?.trim() === 'RUNNING'`,
		`(document.querySelector('#job-status')||{}).textContent`)
	evalJS[int](b, `window.__noReload = 1`)

	logText := `((document.querySelector('#log')||{}).textContent || '')`
	b.waitJS("#log to show the HTML line as text", logText+`.includes(`+js(logHTML)+`)`, logText)
	if n := evalJS[int](b, `document.querySelectorAll('#log img').length`); n != 0 {
		t.Errorf("#log holds %d img elements: the job's output became markup", n)
	}
	count := `(` + logText + `.match(` + tickLine + `)?.length || 0)`
	n0 := evalJS[int](b, count)
	b.waitJS("#log to grow by 5 lines", fmt.Sprintf(`%s >= %d`, count, n0+5), count)
	if !evalJS[bool](b, `window.__noReload === 1`) {
		t.Error("the job page reloaded to show new output")
	}

	if !evalJS[bool](b, `(() => { const e = document.querySelector('#timeline');
		return !!e && (e.tagName.toLowerCase() === 'svg' || !!e.querySelector('svg')); })()`) {
		t.Error("the job page has no #timeline svg")
	}
	// The preemption is marked on the timeline: something whose tooltip
	// (an SVG title) says so.
	if tips := evalJS[[]string](b, `Array.from(document.querySelectorAll('#timeline title')).map(e => e.textContent)`); !slices.ContainsFunc(tips, func(s string) bool {
		return strings.Contains(strings.ToLower(s), "preempt")
	}) {
		t.Errorf("nothing in #timeline is titled as a preemption; its titles: %q", tips)
	}
	type attempts struct {
		Count int    `json:"count"`
		Text  string `json:"text"`
	}
	a := evalJS[attempts](b, `(() => { const e = document.querySelector('#attempts');
		if (!e) return {count: -1, text: ''};
		const rows = e.querySelectorAll('tbody tr');
		const n = rows.length || e.querySelectorAll('li').length || e.querySelectorAll('[data-attempt]').length;
		return {count: n, text: e.textContent.replace(/\s+/g, ' ').trim()}; })()`)
	switch {
	case a.Count < 0:
		t.Error("the job page has no #attempts")
	case a.Count != 2:
		t.Errorf("#attempts lists %d attempts, want 2 (preempted, running): %s", a.Count, a.Text)
	case !strings.Contains(a.Text, "preempted"):
		t.Errorf("#attempts does not say the first attempt was preempted: %s", a.Text)
	}
}

// TestCancelFromJobPage: the job page's cancel button cancels the job.
func TestCancelFromJobPage(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	id := w.id(jobServe)
	b.open(fmt.Sprintf("/jobs/%d", id))
	jobStatus := `(document.querySelector('#job-status')||{}).textContent?.trim()`
	b.waitJS("#job-status to read RUNNING", jobStatus+` === 'RUNNING'`, jobStatus)
	b.click(`form#cancel button:not([type]), form#cancel [type=submit]`)
	b.waitJS("#job-status to read CANCELLED", jobStatus+` === 'CANCELLED'`, jobStatus)
	if j := w.job(jobServe); j.Status != api.StatusCancelled {
		t.Errorf("the page says CANCELLED, the controller %s", j.Status)
	}
}

// TestScreenshots writes a full-page PNG of each page to the artifacts
// directory.
func TestScreenshots(t *testing.T) {
	t.Parallel()
	w, b := start(t)
	dir := artifactsDir(t)
	pages := []struct{ name, path, ready string }{
		{"jobs", "/", `document.querySelectorAll('table#jobs tbody tr[data-job-id]').length > 0`},
		{"job", fmt.Sprintf("/jobs/%d", w.id(jobTrain)), `((document.querySelector('#log')||{}).textContent||'').includes('step 0')`},
		{"pools", "/pools", ""},
		{"capacity", "/capacity", ""},
		{"cost", "/cost", ""},
	}
	for _, p := range pages {
		resp := b.open(p.path)
		if resp.status != 200 {
			t.Errorf("%s answered %d", p.path, resp.status)
		}
		if p.ready != "" {
			b.waitJS(p.name+" page to show its content", p.ready, "document.body.innerText.slice(0, 500)")
		}
		png := b.screenshot()
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("the screenshot of %s is not a PNG (%d bytes)", p.path, len(png))
		}
		file := filepath.Join(dir, p.name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %d)", file, err, sizeOf(fi))
		}
		t.Logf("screenshot of %s: %s (%d bytes)", p.path, file, len(png))
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

// artifactsDir is $SKYNOMAD_ARTIFACTS/dashboard, or artifacts/dashboard at
// the repository's root (the directory holding go.mod above the test's).
func artifactsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("SKYNOMAD_ARTIFACTS")
	if root == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatal("no go.mod above the test's directory: set SKYNOMAD_ARTIFACTS")
			}
			dir = parent
		}
		root = filepath.Join(dir, "artifacts")
	}
	dir := filepath.Join(root, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
