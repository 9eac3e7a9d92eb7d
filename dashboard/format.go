package dashboard

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/internal/units"
	"github.com/skynomad/skynomad/jobs/api"
)

// Text formats follow `jobs queue`: "2 hrs ago", "2h 47m 18s".

// timeLayout is how full times read (titles, detail pages), in UTC.
const timeLayout = "2006-01-02 15:04:05 UTC"

// funcs are the templates' formatting helpers; view models carry the
// rest already formatted.
func funcs() template.FuncMap {
	return template.FuncMap{
		"when":     when,
		"whenPtr":  whenPtr,
		"capacity": capacity,
		"orDash":   orDash,
		"exitCode": exitCode,
		"badge":    statusClass,
		"jobURL":   jobURL,
		"perHour":  func(v float64) string { return money(v) + "/h" },
	}
}

// ago reads like SkyPilot's SUBMITTED column: "a few secs ago", "2 hrs ago".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return units.Ago(now.Sub(t))
}

// duration reads "2h 47m 18s", "1d 3h 0m 5s", "45s".
func duration(d time.Duration) string { return units.Duration(d) }

// totalDuration is "-" for what was not submitted yet.
func totalDuration(submitted time.Time, d api.Duration) string {
	if submitted.IsZero() {
		return "-"
	}
	return duration(time.Duration(d))
}

// jobDuration is "-" for what never started.
func jobDuration(started *time.Time, d api.Duration) string {
	if started == nil && d == 0 {
		return "-"
	}
	return duration(time.Duration(d))
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

// money reads "$1.2345" under a dollar, "$12.34" from one.
func money(v float64) string { return units.USD(v) }

// costSpent is a cost's spent part, "" without a cost.
func costSpent(c *api.Cost) string {
	if c == nil {
		return ""
	}
	return money(c.Spent)
}

// savingsPercent is the share of the on-demand price that spot saved.
func savingsPercent(c api.Cost) string {
	if c.OnDemand <= 0 {
		return "0%"
	}
	return strconv.FormatFloat(math.Round(c.Savings/c.OnDemand*1000)/10, 'f', -1, 64) + "%"
}

func capacity(spot bool) string {
	if spot {
		return "spot"
	}
	return "on-demand"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func exitCode(c *int) string {
	if c == nil {
		return "-"
	}
	return strconv.Itoa(*c)
}

// statusClass is the CSS class of a status's colour: "s-failed_setup".
func statusClass(s api.Status) string {
	return "s-" + strings.ToLower(string(s))
}

// outcomeClass is the CSS class of an attempt's outcome colour; outcomes
// the stylesheet does not know share one.
func outcomeClass(outcome string) string {
	switch outcome {
	case "":
		return "o-live"
	case "succeeded", "failed", "preempted", "no_capacity", "cancelled",
		"operator_stopped", "infeasible", "abandoned":
		return "o-" + outcome
	}
	return "o-other"
}
