package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// jobsView is the jobs page.
type jobsView struct {
	// Seq is the last job change before the page was read: its live
	// updates start after it.
	Seq         uint64
	Rows        []jobRow
	Counts      countsView
	Total       int
	From, To    int
	Prev, Next  string // links to the neighbour pages, "" at the ends
	Page, Pages int
	Headers     []sortHeader
	Histogram   *histogram
	Form        filterForm
	// Query is the page's filter, for the script's fragment requests.
	Query string
	// Insert tells the script to add new jobs at the top (page 1, newest
	// first).
	Insert bool
	Size   int
}

// jobRow is one row of the jobs table, already formatted.
type jobRow struct {
	ID            int64
	Name          string
	Tasks         int // >1 for a pipeline or a job group
	User          string
	Pool          string
	Requested     string
	Submitted     string
	SubmittedFull string
	TotalDuration string
	JobDuration   string
	Recoveries    int
	Status        api.Status
	Cost          string
	Details       string
}

// sortHeader is a sortable column's header link.
type sortHeader struct {
	Label string
	URL   string
	Arrow string // ▲ or ▼ on the current sort column
	Sort  string // aria-sort value
	Num   bool   // a numeric column, right-aligned
}

// countsView is the status counts line: links that filter by status.
type countsView struct {
	Links []countLink
}

type countLink struct {
	Label   string
	Count   int
	URL     string
	Class   string // the status's colour class ("" for groups)
	Current bool
}

// filterForm holds the filter form's values and choices.
type filterForm struct {
	Statuses []option
	Q        string
	User     string
	Pool     string
	Sort     string
	Dir      string
	Size     int
	Users    []string // known values, for the inputs' suggestions
	Pools    []string
}

type option struct {
	Value    string
	Label    string
	Selected bool
}

// jobsPage serves GET /.
func (d *Dashboard) jobsPage(w http.ResponseWriter, r *http.Request) {
	seq := d.lastChange()
	f, res, ok := d.filteredQueue(w, r, r.URL.Query())
	if !ok {
		return
	}
	v := d.jobsView(&f, res.Jobs)
	v.Seq = seq
	d.render(w, http.StatusOK, "jobs", "Managed jobs", v)
}

func (d *Dashboard) jobsView(f *filter, all []api.Job) jobsView {
	now := d.now()
	matched := make([]*api.Job, 0, len(all))
	counts := map[api.Status]int{}
	others := 0 // jobs the non-status filters keep
	users := map[string]bool{}
	pools := map[string]bool{}
	for i := range all {
		j := &all[i]
		users[j.User] = true
		if j.Pool != "" {
			pools[j.Pool] = true
		}
		if !f.matchOthers(j) {
			continue
		}
		others++
		counts[j.Status]++
		if f.want == nil || f.want[j.Status] {
			matched = append(matched, j)
		}
	}
	f.sortJobs(matched)

	v := jobsView{Total: len(matched), Size: f.size}
	v.Pages = max(1, (len(matched)+f.size-1)/f.size)
	v.Page = min(f.page, v.Pages)
	start := (v.Page - 1) * f.size
	end := min(start+f.size, len(matched))
	if start < end {
		v.From, v.To = start+1, end
	}
	v.Rows = make([]jobRow, 0, end-start)
	for _, j := range matched[start:end] {
		v.Rows = append(v.Rows, makeRow(j, now))
	}
	if v.Page > 1 {
		v.Prev = f.pageURL(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.Next = f.pageURL(v.Page + 1)
	}
	v.Headers = sortHeaders(f)
	v.Counts = makeCounts(f, counts, others)
	v.Histogram = newHistogram(matched)
	v.Form = makeForm(f, users, pools)
	v.Query = f.values().Encode()
	v.Insert = v.Page == 1 && f.sort == "id" && f.desc
	return v
}

func makeRow(j *api.Job, now time.Time) jobRow {
	row := jobRow{
		ID:            j.ID,
		Name:          j.Name,
		Tasks:         len(j.Tasks),
		User:          j.User,
		Pool:          j.Pool,
		Submitted:     ago(j.SubmittedAt, now),
		SubmittedFull: when(j.SubmittedAt),
		TotalDuration: totalDuration(j.SubmittedAt, j.TotalDuration),
		JobDuration:   jobDuration(j.StartedAt, j.JobDuration),
		Recoveries:    j.Recoveries,
		Status:        j.Status,
		Cost:          costSpent(j.Cost),
		Details:       j.FailureReason,
	}
	if len(j.Tasks) > 0 {
		row.Requested = j.Tasks[0].Requested
		if row.Details == "" {
			row.Details = j.Tasks[0].FailureReason
		}
	}
	if row.Details == "" {
		row.Details = j.Details
	}
	return row
}

var columnLabels = []struct{ key, label string }{
	{"id", "ID"}, {"name", "Name"}, {"user", "User"}, {"", "Pool"}, {"", "Requested"},
	{"submitted", "Submitted"}, {"duration", "Tot. duration"}, {"", "Job duration"},
	{"recoveries", "#Recoveries"}, {"status", "Status"}, {"cost", "Cost"},
}

func sortHeaders(f *filter) []sortHeader {
	hs := make([]sortHeader, len(columnLabels))
	for i, c := range columnLabels {
		hs[i] = sortHeader{Label: c.label, Num: c.key == "recoveries" || c.key == "cost"}
		if c.key == "" {
			continue
		}
		hs[i].URL = f.sortURL(c.key)
		if f.sort == c.key {
			hs[i].Arrow, hs[i].Sort = "▲", "ascending"
			if f.desc {
				hs[i].Arrow, hs[i].Sort = "▼", "descending"
			}
		}
	}
	return hs
}

func makeCounts(f *filter, counts map[api.Status]int, total int) countsView {
	var cv countsView
	active, failed := 0, 0
	for s, n := range counts {
		if !s.Terminal() {
			active += n
		}
		if s.Failed() {
			failed += n
		}
	}
	cv.Links = append(cv.Links,
		countLink{Label: "All", Count: total, URL: f.statusURL(""), Current: len(f.statuses) == 0},
		countLink{Label: "Active", Count: active, URL: f.statusURL(groupActive), Current: len(f.statuses) == 1 && f.statuses[0] == groupActive},
		countLink{Label: "Failed", Count: failed, URL: f.statusURL(groupFailed), Current: len(f.statuses) == 1 && f.statuses[0] == groupFailed},
	)
	for _, s := range api.AllStatuses {
		if counts[s] == 0 && !f.selected(string(s)) {
			continue
		}
		cv.Links = append(cv.Links, countLink{
			Label: string(s), Count: counts[s], URL: f.statusURL(string(s)), Class: statusClass(s),
			Current: len(f.statuses) == 1 && f.statuses[0] == string(s),
		})
	}
	return cv
}

func makeForm(f *filter, users, pools map[string]bool) filterForm {
	ff := filterForm{Q: f.q, User: f.user, Pool: f.pool, Sort: f.sort, Dir: dirName(f.desc), Size: f.size}
	ff.Statuses = append(ff.Statuses,
		option{Value: groupActive, Label: "active (not finished)", Selected: f.selected(groupActive)},
		option{Value: groupFailed, Label: "failed (any FAILED*)", Selected: f.selected(groupFailed)},
	)
	for _, s := range api.AllStatuses {
		ff.Statuses = append(ff.Statuses, option{Value: string(s), Label: string(s), Selected: f.selected(string(s))})
	}
	ff.Users = sortedKeys(users)
	ff.Pools = sortedKeys(pools)
	return ff
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// rowFragment serves GET /jobs/{id}/row: the job's table row, 204 when the
// page's filter leaves it out.
func (d *Dashboard) rowFragment(w http.ResponseWriter, r *http.Request) {
	id, ok := d.jobID(w, r)
	if !ok {
		return
	}
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		d.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := d.b.Queue(r.Context(), api.QueueRequest{All: true, JobIDs: []int64{id}})
	if err != nil {
		d.backendFailed(w, r, "the queue", err)
		return
	}
	i := slices.IndexFunc(res.Jobs, func(j api.Job) bool { return j.ID == id })
	if i < 0 {
		d.fail(w, http.StatusNotFound, "There is no managed job "+strconv.FormatInt(id, 10)+".")
		return
	}
	if !f.match(&res.Jobs[i]) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d.fragment(w, "jobs", "row", makeRow(&res.Jobs[i], d.now()))
}

// countsFragment serves GET /jobs/counts: the status counts of the
// page's filter.
func (d *Dashboard) countsFragment(w http.ResponseWriter, r *http.Request) {
	f, res, ok := d.filteredQueue(w, r, r.URL.Query())
	if !ok {
		return
	}
	counts := map[api.Status]int{}
	total := 0
	for i := range res.Jobs {
		if f.matchOthers(&res.Jobs[i]) {
			counts[res.Jobs[i].Status]++
			total++
		}
	}
	d.fragment(w, "jobs", "counts", makeCounts(&f, counts, total))
}

// filteredQueue parses the filter in q and reads every job; when it
// cannot, it has answered.
func (d *Dashboard) filteredQueue(w http.ResponseWriter, r *http.Request, q url.Values) (filter, api.QueueResponse, bool) {
	f, err := parseFilter(q)
	if err != nil {
		d.fail(w, http.StatusBadRequest, err.Error())
		return f, api.QueueResponse{}, false
	}
	res, err := d.b.Queue(r.Context(), api.QueueRequest{All: true})
	if err != nil {
		d.backendFailed(w, r, "the queue", err)
		return f, res, false
	}
	return f, res, true
}
