package dashboard

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/jobs/api"
)

// The jobs page's query: which jobs (status, q, user, pool), in what order
// (sort, dir), which page (page, size).

// Status groups accepted by the status parameter beside the statuses.
const (
	groupActive = "active" // not terminal
	groupFailed = "failed" // FAILED*
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// sortKey is a value of the sort parameter with its default direction.
type sortKey struct {
	name string
	desc bool
}

var sortKeys = []sortKey{
	{"id", true}, {"name", false}, {"user", false}, {"status", false},
	{"submitted", true}, {"duration", true}, {"recoveries", true}, {"cost", true},
}

func findSortKey(name string) (sortKey, bool) {
	i := slices.IndexFunc(sortKeys, func(k sortKey) bool { return k.name == name })
	if i < 0 {
		return sortKey{}, false
	}
	return sortKeys[i], true
}

// filter is a parsed jobs-page query.
type filter struct {
	statuses []string            // as given, for links and the form
	want     map[api.Status]bool // statuses expanded from groups; nil: any
	q        string
	qLower   string
	qID      int64 // q read as a job id (0: not a number)
	user     string
	pool     string
	sort     string
	desc     bool
	page     int
	size     int
}

// parseFilter reads the query; the error says which parameter is wrong
// and what it accepts.
func parseFilter(q url.Values) (filter, error) {
	f := filter{sort: "id", desc: true, page: 1, size: defaultPageSize}
	for _, v := range q["status"] {
		if v == "" {
			continue
		}
		if f.want == nil {
			f.want = map[api.Status]bool{}
		}
		f.statuses = append(f.statuses, v)
		switch v {
		case groupActive, groupFailed:
			for _, s := range api.AllStatuses {
				if (v == groupActive && !s.Terminal()) || (v == groupFailed && s.Failed()) {
					f.want[s] = true
				}
			}
			continue
		}
		s := api.Status(v)
		if !slices.Contains(api.AllStatuses, s) {
			return f, fmt.Errorf("status %q is not a status; use one of %s, %s or %s", v, groupActive, groupFailed, statusList())
		}
		f.want[s] = true
	}
	f.q = strings.TrimSpace(q.Get("q"))
	if f.q != "" {
		f.qLower = strings.ToLower(f.q)
		if id, err := strconv.ParseInt(strings.TrimPrefix(f.q, "#"), 10, 64); err == nil && id > 0 {
			f.qID = id
		}
	}
	f.user = strings.TrimSpace(q.Get("user"))
	f.pool = strings.TrimSpace(q.Get("pool"))
	if v := q.Get("sort"); v != "" {
		k, ok := findSortKey(v)
		if !ok {
			names := make([]string, len(sortKeys))
			for i, k := range sortKeys {
				names[i] = k.name
			}
			return f, fmt.Errorf("sort %q is not a column; use one of %s", v, strings.Join(names, ", "))
		}
		f.sort, f.desc = k.name, k.desc
	}
	switch v := q.Get("dir"); v {
	case "":
	case "asc":
		f.desc = false
	case "desc":
		f.desc = true
	default:
		return f, fmt.Errorf("dir %q is not a direction; use asc or desc", v)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, fmt.Errorf("page %q is not a page number (1, 2, ...)", v)
		}
		f.page = n
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, fmt.Errorf("size %q is not a number of rows (1 to %d)", v, maxPageSize)
		}
		f.size = min(n, maxPageSize)
	}
	return f, nil
}

func statusList() string {
	names := make([]string, len(api.AllStatuses))
	for i, s := range api.AllStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// defaultDesc is the sort key's own direction.
func defaultDesc(name string) bool {
	k, _ := findSortKey(name)
	return k.desc
}

// matchOthers applies every filter but the status one (the counts show
// every status of the jobs the other filters keep).
func (f *filter) matchOthers(j *api.Job) bool {
	if f.user != "" && j.User != f.user {
		return false
	}
	if f.pool != "" && j.Pool != f.pool {
		return false
	}
	if f.q != "" && j.ID != f.qID && !containsFold(j.Name, f.qLower) {
		return false
	}
	return true
}

func (f *filter) match(j *api.Job) bool {
	return (f.want == nil || f.want[j.Status]) && f.matchOthers(j)
}

// containsFold reports whether s contains lower, ignoring case; it
// lowercases s only when s has upper-case letters.
func containsFold(s, lower string) bool {
	return strings.Contains(strings.ToLower(s), lower)
}

// sortJobs orders jobs by the filter's key, ties newest first.
func (f *filter) sortJobs(jobs []*api.Job) {
	byID := func(a, b *api.Job) int { return cmp.Compare(b.ID, a.ID) }
	var key func(a, b *api.Job) int
	switch f.sort {
	case "id":
		if f.desc && slices.IsSortedFunc(jobs, byID) {
			return // the queue answers newest first
		}
		key = func(a, b *api.Job) int { return cmp.Compare(a.ID, b.ID) }
	case "name":
		f.sortByName(jobs, byID)
		return
	case "user":
		key = func(a, b *api.Job) int { return strings.Compare(a.User, b.User) }
	case "status":
		key = func(a, b *api.Job) int { return cmp.Compare(statusRank(a.Status), statusRank(b.Status)) }
	case "submitted":
		key = func(a, b *api.Job) int { return a.SubmittedAt.Compare(b.SubmittedAt) }
	case "duration":
		key = func(a, b *api.Job) int { return cmp.Compare(a.TotalDuration, b.TotalDuration) }
	case "recoveries":
		key = func(a, b *api.Job) int { return cmp.Compare(a.Recoveries, b.Recoveries) }
	case "cost":
		key = func(a, b *api.Job) int { return cmp.Compare(spent(a), spent(b)) }
	}
	sign := 1
	if f.desc {
		sign = -1
	}
	slices.SortFunc(jobs, func(a, b *api.Job) int {
		if c := key(a, b); c != 0 {
			return sign * c
		}
		return byID(a, b)
	})
}

// sortByName orders jobs by name ignoring case, lowering each name once.
func (f *filter) sortByName(jobs []*api.Job, byID func(a, b *api.Job) int) {
	type named struct {
		lower string
		job   *api.Job
	}
	keyed := make([]named, len(jobs))
	for i, j := range jobs {
		keyed[i] = named{strings.ToLower(j.Name), j}
	}
	sign := 1
	if f.desc {
		sign = -1
	}
	slices.SortFunc(keyed, func(a, b named) int {
		if c := strings.Compare(a.lower, b.lower); c != 0 {
			return sign * c
		}
		return byID(a.job, b.job)
	})
	for i, k := range keyed {
		jobs[i] = k.job
	}
}

// statusRank is a status's place in AllStatuses (display order).
func statusRank(s api.Status) int {
	for i, st := range api.AllStatuses {
		if st == s {
			return i
		}
	}
	return len(api.AllStatuses)
}

// spent is a job's cost, -1 without one (last when sorting by cost).
func spent(j *api.Job) float64 {
	if j.Cost == nil {
		return -1
	}
	return j.Cost.Spent
}

// values is the filter as a query, leaving out defaults; page is left out
// (links set it).
func (f *filter) values() url.Values {
	v := url.Values{}
	for _, s := range f.statuses {
		v.Add("status", s)
	}
	if f.q != "" {
		v.Set("q", f.q)
	}
	if f.user != "" {
		v.Set("user", f.user)
	}
	if f.pool != "" {
		v.Set("pool", f.pool)
	}
	if f.sort != "id" {
		v.Set("sort", f.sort)
	}
	if f.desc != defaultDesc(f.sort) {
		v.Set("dir", dirName(f.desc))
	}
	if f.size != defaultPageSize {
		v.Set("size", strconv.Itoa(f.size))
	}
	return v
}

func dirName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// pageURL links another page of the same query.
func (f *filter) pageURL(page int) string {
	v := f.values()
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return withQuery("/", v)
}

// statusURL links the same query with only the given status filter
// (none: every status), from page 1.
func (f *filter) statusURL(status string) string {
	v := f.values()
	v.Del("status")
	if status != "" {
		v.Set("status", status)
	}
	return withQuery("/", v)
}

// sortURL links the same filter sorted by key: a click on the current
// column turns the direction around.
func (f *filter) sortURL(key string) string {
	g := *f
	if g.sort == key {
		g.desc = !g.desc
	} else {
		g.sort, g.desc = key, defaultDesc(key)
	}
	return g.pageURL(1)
}

// selected reports whether the status parameter holds v.
func (f *filter) selected(v string) bool { return slices.Contains(f.statuses, v) }
