package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/internal/units"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

// The `jobs queue` table. Text formats follow SkyPilot's: "2 hrs ago",
// "2h 47m 18s", " ↳" task rows under a pipeline's aggregate row.

var queueHeaders = []string{"ID", "TASK", "NAME", "REQUESTED", "SUBMITTED", "TOT. DURATION", "JOB DURATION", "#RECOVERIES", "STATUS", "POOL"}

// userColumn is where -u puts USER: after NAME, as SkyPilot does.
const userColumn = 3

// verboseHeaders follow queueHeaders with -v.
var verboseHeaders = []string{"RESTARTS", "EXIT CODE", "INFRA", "INSTANCE", "COST", "SAVED"}

// queueColumns are the optional columns of the queue table.
type queueColumns struct {
	verbose bool // -v: verboseHeaders and DETAILS
	users   bool // -u: USER, after NAME
}

// queueTable lays out jobs (newest first, as the controller answers). A
// DETAILS column holding the failure reason is added when a row has one,
// and always with -v.
func queueTable(jobs []api.Job, now time.Time, cols queueColumns) ui.Table {
	verbose := cols.verbose
	t := ui.Table{Headers: append([]string(nil), queueHeaders...)}
	if cols.users {
		t.Headers = slices.Insert(t.Headers, userColumn, "USER")
	}
	if verbose {
		t.Headers = append(t.Headers, verboseHeaders...)
	}
	details := verbose
	for _, j := range jobs {
		if j.FailureReason != "" || j.Details != "" {
			details = true
		}
		for _, tk := range j.Tasks {
			if tk.FailureReason != "" {
				details = true
			}
		}
	}
	if details {
		t.Headers = append(t.Headers, "DETAILS")
	}
	add := func(row []string, user string, extra []string, reason string) {
		if cols.users {
			row = slices.Insert(row, userColumn, orDash(user))
		}
		if verbose {
			row = append(row, extra...)
		}
		if details {
			row = append(row, orDash(reason))
		}
		t.Rows = append(t.Rows, row)
	}
	for _, j := range jobs {
		pool := orDash(j.Pool)
		if !j.Pipeline && len(j.Tasks) == 1 {
			tk := j.Tasks[0]
			add([]string{
				strconv.FormatInt(j.ID, 10), "-", j.Name, orDash(tk.Requested),
				ago(&j.SubmittedAt, now), totalDuration(&j.SubmittedAt, j.TotalDuration), jobDuration(j.StartedAt, j.JobDuration),
				strconv.Itoa(j.Recoveries), string(j.Status), pool,
			}, j.User, append(taskExtras(tk), costCells(j.Cost)...), firstNonEmpty(j.FailureReason, tk.FailureReason, j.Details))
			continue
		}
		add([]string{
			strconv.FormatInt(j.ID, 10), "", j.Name, "-",
			ago(&j.SubmittedAt, now), totalDuration(&j.SubmittedAt, j.TotalDuration), jobDuration(j.StartedAt, j.JobDuration),
			strconv.Itoa(j.Recoveries), string(j.Status), pool,
		}, j.User, append([]string{strconv.Itoa(totalRestarts(j)), "-", "-", "-"}, costCells(j.Cost)...), j.FailureReason)
		for _, tk := range j.Tasks {
			add([]string{
				" ↳", strconv.Itoa(tk.Index), tk.Name, orDash(tk.Requested),
				ago(tk.SubmittedAt, now), totalDuration(tk.SubmittedAt, tk.TotalDuration), jobDuration(tk.StartedAt, tk.JobDuration),
				strconv.Itoa(tk.Recoveries), string(tk.Status), pool,
			}, j.User, append(taskExtras(tk), costCells(tk.Cost)...), tk.FailureReason)
		}
	}
	return t
}

func taskExtras(tk api.Task) []string {
	code := "-"
	if tk.ExitCode != nil {
		code = strconv.Itoa(*tk.ExitCode)
	}
	instance := orDash(tk.Instance)
	if tk.Instance != "" && tk.Spot {
		instance += "[Spot]"
	}
	return []string{strconv.Itoa(tk.Restarts), code, orDash(tk.Infra), instance}
}

// costCells are COST (spent so far) and SAVED (against on-demand), in
// USD, or dashes where capacity has no price (the local engine).
func costCells(c *api.Cost) []string {
	if c == nil {
		return []string{"-", "-"}
	}
	return []string{units.USD(c.Spent), units.USD(c.Savings)}
}

func totalRestarts(j api.Job) int {
	n := 0
	for _, tk := range j.Tasks {
		n += tk.Restarts
	}
	return n
}

// inProgressLine is "In progress tasks: 1 PENDING, 2 RUNNING" (the
// controller's count of jobs in progress by status, in status order) or
// "No in-progress managed jobs.".
func inProgressLine(counts map[api.Status]int) string {
	var parts []string
	for _, s := range api.AllStatuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		return "No in-progress managed jobs."
	}
	return "In progress tasks: " + strings.Join(parts, ", ")
}

// ago reads like SkyPilot's SUBMITTED column: "a few secs ago", "2 hrs ago".
func ago(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return units.Ago(now.Sub(*t))
}

// totalDuration is the time since submission, "-" for a task not
// submitted yet (one waiting for an earlier task of its pipeline).
func totalDuration(submitted *time.Time, d api.Duration) string {
	if submitted == nil || submitted.IsZero() {
		return "-"
	}
	return units.Duration(time.Duration(d))
}

// jobDuration is the time spent running, "-" for what never started.
func jobDuration(started *time.Time, d api.Duration) string {
	if (started == nil || started.IsZero()) && d == 0 {
		return "-"
	}
	return units.Duration(time.Duration(d))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
