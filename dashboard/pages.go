package dashboard

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/skynomad/skynomad/jobs/api"
)

// poolView is one pool on the pools page.
type poolView struct {
	api.Pool
	Choice string
}

// poolsPage serves GET /pools.
func (d *Dashboard) poolsPage(w http.ResponseWriter, r *http.Request) {
	pools, err := d.b.Pools(r.Context(), nil)
	if err != nil {
		d.backendFailed(w, r, "the pools", err)
		return
	}
	views := make([]poolView, len(pools))
	for i, p := range pools {
		views[i] = poolView{Pool: p, Choice: "-"}
		if c := p.Choice; c != nil {
			views[i].Choice = c.Offering.Describe() + ", " + capacity(c.Spot)
		}
	}
	d.render(w, http.StatusOK, "pools", "Pools", views)
}

// capacityView is the capacity page.
type capacityView struct {
	api.Capacity
	Local                bool
	Booting, Ready, Down int
}

// capacityPage serves GET /capacity.
func (d *Dashboard) capacityPage(w http.ResponseWriter, r *http.Request) {
	c, err := d.b.Capacity(r.Context())
	if err != nil {
		d.backendFailed(w, r, "the capacity", err)
		return
	}
	if c.Engine == "" {
		c.Engine = d.b.EngineName()
	}
	v := capacityView{Capacity: c, Local: c.Engine == "local"}
	for _, n := range c.Nodes {
		switch n.Status {
		case "initializing":
			v.Booting++
		case "ready":
			v.Ready++
		default:
			v.Down++
		}
	}
	d.render(w, http.StatusOK, "capacity", "Capacity", v)
}

// costPageView is the cost page: the jobs with a cost, most expensive first.
type costPageView struct {
	Sum        costView
	Total      int
	Rows       []costRow
	From, To   int
	Prev, Next string
}

type costRow struct {
	ID         int64
	Name       string
	User       string
	Status     api.Status
	Spent      string
	OnDemand   string
	Savings    string
	SavingsPct string
}

// costPage serves GET /cost[?page=N][&size=N].
func (d *Dashboard) costPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, res, ok := d.filteredQueue(w, r, url.Values{"page": q["page"], "size": q["size"]})
	if !ok {
		return
	}
	var costed []*api.Job
	var total api.Cost
	for i := range res.Jobs {
		if c := res.Jobs[i].Cost; c != nil {
			costed = append(costed, &res.Jobs[i])
			total = total.Add(*c)
		}
	}
	slices.SortFunc(costed, func(a, b *api.Job) int {
		if c := cmp.Compare(b.Cost.Spent, a.Cost.Spent); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	v := costPageView{Sum: *makeCost(total), Total: len(costed)}
	pages := max(1, (len(costed)+f.size-1)/f.size)
	page := min(f.page, pages)
	start := (page - 1) * f.size
	end := min(start+f.size, len(costed))
	if start < end {
		v.From, v.To = start+1, end
	}
	for _, j := range costed[start:end] {
		c := *j.Cost
		v.Rows = append(v.Rows, costRow{
			ID: j.ID, Name: j.Name, User: j.User, Status: j.Status,
			Spent: money(c.Spent), OnDemand: money(c.OnDemand), Savings: money(c.Savings), SavingsPct: savingsPercent(c),
		})
	}
	link := func(p int) string {
		u := url.Values{}
		if p > 1 {
			u.Set("page", strconv.Itoa(p))
		}
		if f.size != defaultPageSize {
			u.Set("size", strconv.Itoa(f.size))
		}
		return withQuery("/cost", u)
	}
	if page > 1 {
		v.Prev = link(page - 1)
	}
	if page < pages {
		v.Next = link(page + 1)
	}
	d.render(w, http.StatusOK, "cost", fmt.Sprintf("Cost: %s", v.Sum.Spent), v)
}
