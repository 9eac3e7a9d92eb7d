package dashboard

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// jobView is the job page.
type jobView struct {
	// Seq is the last job change before the page was read: its live
	// updates start after it.
	Seq           uint64
	Summary       summaryView
	Logs          logsView
	ControllerLog logText
}

// summaryView is the part of the job page the script refreshes when the
// job changes: header, cost, links, cancel, tasks, attempts, timeline.
type summaryView struct {
	ID            int64
	Name          string
	Status        api.Status
	User          string
	Pool          string
	Worker        int64
	Kind          string // "pipeline", "job group" or ""
	Submitted     string
	SubmittedAgo  string
	Started       string
	Ended         string
	TotalDuration string
	JobDuration   string
	Recoveries    int
	FailureReason string
	Details       string
	Cost          *costView
	Links         []api.Link
	Tasks         []taskRow
	Attempts      []attemptRow
	Timeline      *timeline
	Changes       []changeRow
	Cancellable   bool
	CSRF          string
}

type costView struct {
	Spent, OnDemand, Savings, SavingsPct string
}

type taskRow struct {
	Index         int
	Name          string
	Status        api.Status
	Requested     string
	Infra         string
	Instance      string
	Capacity      string
	Recoveries    int
	Restarts      int
	ExitCode      string
	FailureReason string
	Cost          string
}

type attemptRow struct {
	Task     int
	Number   int
	Infra    string
	Instance string
	Zones    string
	Capacity string
	Node     string
	Worker   int64
	Created  string
	Placed   string
	Run      string
	Ended    string
	Outcome  string
	Class    string
	ExitCode string
	Cost     string
	Links    []api.Link
}

type changeRow struct {
	At      string
	Task    int
	Status  api.Status
	Attempt string
	Note    string
}

// jobPage serves GET /jobs/{id}[?task=N][&rank=R].
func (d *Dashboard) jobPage(w http.ResponseWriter, r *http.Request) {
	seq := d.lastChange()
	id, sel, ok := d.logRequest(w, r)
	if !ok {
		return
	}
	detail, ok := d.detail(w, r, id)
	if !ok {
		return
	}
	if sel.task != nil && *sel.task >= len(detail.Job.Tasks) {
		d.fail(w, http.StatusBadRequest, fmt.Sprintf("Job %d has no task %d: it has %d task(s).", id, *sel.task, len(detail.Job.Tasks)))
		return
	}
	v := jobView{Seq: seq, Summary: d.summary(detail)}
	var wg sync.WaitGroup
	wg.Go(func() { v.Logs = d.logsView(r.Context(), detail.Job, sel) })
	wg.Go(func() { v.ControllerLog = d.controllerLogTail(r.Context(), id) })
	wg.Wait()
	d.render(w, http.StatusOK, "job", fmt.Sprintf("Job %d: %s", id, detail.Job.Name), v)
}

// summaryFragment serves GET /jobs/{id}/summary.
func (d *Dashboard) summaryFragment(w http.ResponseWriter, r *http.Request) {
	id, ok := d.jobID(w, r)
	if !ok {
		return
	}
	detail, ok := d.detail(w, r, id)
	if !ok {
		return
	}
	d.fragment(w, "job", "summary", d.summary(detail))
}

// detail reads a job's detail, writing the error page when it cannot.
func (d *Dashboard) detail(w http.ResponseWriter, r *http.Request, id int64) (api.JobDetail, bool) {
	detail, err := d.b.JobDetail(r.Context(), id)
	if err != nil {
		if !d.jobExists(r.Context(), id) {
			d.fail(w, http.StatusNotFound, fmt.Sprintf("There is no managed job %d.", id))
			return detail, false
		}
		d.backendFailed(w, r, fmt.Sprintf("job %d", id), err)
		return detail, false
	}
	return detail, true
}

func (d *Dashboard) summary(detail api.JobDetail) summaryView {
	j := detail.Job
	now := d.now()
	s := summaryView{
		ID: j.ID, Name: j.Name, Status: j.Status, User: j.User, Pool: j.Pool, Worker: j.Worker,
		Submitted: when(j.SubmittedAt), SubmittedAgo: ago(j.SubmittedAt, now),
		Started: whenPtr(j.StartedAt), Ended: whenPtr(j.EndedAt),
		TotalDuration: totalDuration(j.SubmittedAt, j.TotalDuration),
		JobDuration:   jobDuration(j.StartedAt, j.JobDuration),
		Recoveries:    j.Recoveries, FailureReason: j.FailureReason, Details: j.Details,
		Links:       detail.Links,
		Cancellable: !j.Status.Terminal(),
		CSRF:        d.csrf,
	}
	switch {
	case j.JobGroup:
		s.Kind = "job group"
	case j.Pipeline:
		s.Kind = "pipeline"
	}
	if j.Cost != nil {
		s.Cost = makeCost(*j.Cost)
	}
	for _, t := range j.Tasks {
		s.Tasks = append(s.Tasks, taskRow{
			Index: t.Index, Name: t.Name, Status: t.Status, Requested: t.Requested,
			Infra: t.Infra, Instance: t.Instance, Capacity: placedCapacity(t.Instance, t.Spot),
			Recoveries: t.Recoveries, Restarts: t.Restarts, ExitCode: exitCode(t.ExitCode),
			FailureReason: t.FailureReason, Cost: costSpent(t.Cost),
		})
	}
	for _, a := range detail.Attempts {
		s.Attempts = append(s.Attempts, attemptRow{
			Task: a.Task, Number: a.Number, Infra: a.Infra, Instance: a.Instance,
			Zones: strings.Join(a.Zones, ", "), Capacity: capacity(a.Spot), Node: a.Node, Worker: a.Worker,
			Created: when(a.CreatedAt), Placed: whenPtr(a.PlacedAt), Run: whenPtr(a.RunAt), Ended: whenPtr(a.EndedAt),
			Outcome: outcomeText(a.Outcome), Class: outcomeClass(a.Outcome),
			ExitCode: exitCode(a.ExitCode), Cost: costSpent(a.Cost), Links: a.Links,
		})
	}
	for _, c := range detail.Timeline {
		row := changeRow{At: when(c.At), Task: c.Task, Status: c.Status, Note: c.Note}
		if c.Attempt > 0 {
			row.Attempt = strconv.Itoa(c.Attempt)
		}
		s.Changes = append(s.Changes, row)
	}
	s.Timeline = newTimeline(detail, now)
	return s
}

func makeCost(c api.Cost) *costView {
	return &costView{Spent: money(c.Spent), OnDemand: money(c.OnDemand), Savings: money(c.Savings), SavingsPct: savingsPercent(c)}
}

// placedCapacity is spot or on-demand once placed, "-" before.
func placedCapacity(instance string, spot bool) string {
	if instance == "" {
		return "-"
	}
	return capacity(spot)
}

// outcomeText is an attempt's outcome for people: "operator stopped".
func outcomeText(o string) string {
	if o == "" {
		return "live"
	}
	return strings.ReplaceAll(o, "_", " ")
}

// cancel serves POST /jobs/{id}/cancel.
func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := d.jobID(w, r)
	if !ok {
		return
	}
	if err := d.origin.Check(r); err != nil {
		d.fail(w, http.StatusForbidden, "Cross-origin form posts are refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		d.fail(w, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	if d.csrf != "" && subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(d.csrf)) != 1 {
		d.fail(w, http.StatusForbidden, "The form's CSRF token is missing or wrong: reload the job page and try again.")
		return
	}
	if _, err := d.b.Cancel(r.Context(), api.CancelRequest{JobIDs: []int64{id}}); err != nil {
		d.log.Warn("dashboard: cancel failed", "job", id, "err", err)
		d.fail(w, http.StatusInternalServerError, fmt.Sprintf("Cancelling job %d failed: %v", id, err))
		return
	}
	http.Redirect(w, r, jobURL(id), http.StatusSeeOther)
}

// timeline is the job page's Gantt chart: a lane per task, a bar per
// attempt from its creation (launching, light) and placement (solid) to
// its end, coloured by outcome, with a marker where a preemption ended one.
type timeline struct {
	Width, Height float64
	AxisY         float64
	Lanes         []tlLane
	Bars          []tlBar
	Markers       []tlMarker
	Ticks         []histTick
	Summary       string
}

type tlLane struct {
	Y, TextY float64
	Label    string
}

type tlBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type tlMarker struct {
	Points string
	Title  string
}

const (
	tlWidth    = 960.0
	tlLeft     = 150.0 // room for the lane labels
	tlRight    = 10.0
	tlLaneH    = 30.0
	tlBarH     = 16.0
	tlAxis     = 26.0
	tlMinWidth = 2.0
)

// newTimeline charts the attempts; nil when there are none.
func newTimeline(detail api.JobDetail, now time.Time) *timeline {
	if len(detail.Attempts) == 0 {
		return nil
	}
	j := detail.Job
	lo := j.SubmittedAt
	hi := lo
	live := false
	for _, a := range detail.Attempts {
		if lo.IsZero() || a.CreatedAt.Before(lo) {
			lo = a.CreatedAt
		}
		if a.EndedAt != nil {
			hi = later(hi, *a.EndedAt)
		} else {
			live = true
		}
		hi = later(hi, a.CreatedAt)
	}
	if j.EndedAt != nil {
		hi = later(hi, *j.EndedAt)
	}
	if live || !j.Status.Terminal() {
		hi = later(hi, now)
	}
	if !hi.After(lo) {
		hi = lo.Add(time.Second)
	}
	lanes := max(1, len(j.Tasks))
	for _, a := range detail.Attempts {
		lanes = max(lanes, a.Task+1)
	}
	span := hi.Sub(lo)
	plot := tlWidth - tlLeft - tlRight
	x := func(t time.Time) float64 {
		return round1(tlLeft + plot*float64(t.Sub(lo))/float64(span))
	}
	tl := &timeline{Width: tlWidth, Height: float64(lanes)*tlLaneH + tlAxis, AxisY: float64(lanes) * tlLaneH}
	for i := range lanes {
		label := "task " + strconv.Itoa(i)
		if i < len(j.Tasks) && j.Tasks[i].Name != "" {
			label += " " + j.Tasks[i].Name
		}
		if r := []rune(label); len(r) > 22 {
			label = string(r[:21]) + "…"
		}
		tl.Lanes = append(tl.Lanes, tlLane{Y: float64(i) * tlLaneH, TextY: float64(i)*tlLaneH + tlLaneH/2 + 4, Label: label})
	}
	for _, a := range detail.Attempts {
		end := hi
		if a.EndedAt != nil {
			end = *a.EndedAt
		}
		y := round1(float64(a.Task)*tlLaneH + (tlLaneH-tlBarH)/2)
		title := attemptTitle(a, end)
		solidFrom := end
		if a.PlacedAt != nil {
			solidFrom = *a.PlacedAt
		}
		if solidFrom.After(a.CreatedAt) {
			tl.Bars = append(tl.Bars, tlBar{X: x(a.CreatedAt), Y: y, W: max(x(solidFrom)-x(a.CreatedAt), tlMinWidth), H: tlBarH,
				Class: "tl-launching", Title: title + " (launching)"})
		}
		if a.PlacedAt != nil || !end.After(a.CreatedAt) {
			tl.Bars = append(tl.Bars, tlBar{X: x(solidFrom), Y: y, W: max(x(end)-x(solidFrom), tlMinWidth), H: tlBarH,
				Class: outcomeClass(a.Outcome), Title: title})
		}
		if a.Outcome == "preempted" {
			ex, top := x(end), y-3
			tl.Markers = append(tl.Markers, tlMarker{
				Points: fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f", ex-6, top, ex+6, top, ex, top+9),
				Title:  fmt.Sprintf("preempted: attempt %d of task %d at %s", a.Number, a.Task, when(end)),
			})
		}
	}
	for i, anchor := range []string{"start", "middle", "middle", "middle", "end"} {
		t := lo.Add(span * time.Duration(i) / 4)
		tl.Ticks = append(tl.Ticks, histTick{X: x(t), Label: axisLabel(t, span), Anchor: anchor})
	}
	tl.Summary = fmt.Sprintf("%d attempt(s) of %d task(s) from %s to %s", len(detail.Attempts), lanes, when(lo), when(hi))
	return tl
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func attemptTitle(a api.Attempt, end time.Time) string {
	where := strings.TrimSpace(a.Infra + " " + a.Instance)
	if where == "" {
		where = "no placement"
	}
	return fmt.Sprintf("task %d attempt %d: %s, %s, %s – %s, %s", a.Task, a.Number, where, capacity(a.Spot),
		when(a.CreatedAt), when(end), outcomeText(a.Outcome))
}

func axisLabel(t time.Time, span time.Duration) string {
	t = t.UTC()
	if span < 24*time.Hour {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04")
}

// taskURL links the job page with another log selection.
func taskURL(id int64, task *int, rank *int) string {
	v := url.Values{}
	if task != nil {
		v.Set("task", strconv.Itoa(*task))
	}
	if rank != nil {
		v.Set("rank", strconv.Itoa(*rank))
	}
	return withQuery(jobURL(id), v)
}
