package units

import (
	"fmt"
	"strconv"
	"time"
)

// Ago reads like SkyPilot's SUBMITTED column for something d ago: "a few
// secs ago", "1 min ago", "2 hrs ago".
func Ago(d time.Duration) string {
	d = max(d, 0)
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name + " ago"
		}
		return strconv.Itoa(n) + " " + name + "s ago"
	}
	switch {
	case d < 10*time.Second:
		return "a few secs ago"
	case d < time.Minute:
		return unit(int(d/time.Second), "sec")
	case d < time.Hour:
		return unit(int(d/time.Minute), "min")
	case d < 24*time.Hour:
		return unit(int(d/time.Hour), "hr")
	case d < 7*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d < 30*24*time.Hour:
		return unit(int(d/(7*24*time.Hour)), "week")
	case d < 365*24*time.Hour:
		return unit(int(d/(30*24*time.Hour)), "month")
	}
	return unit(int(d/(365*24*time.Hour)), "year")
}

// Duration reads "2h 47m 18s", "1d 3h 0m 5s", "45s".
func Duration(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	days := int(d / (24 * time.Hour))
	h := int(d/time.Hour) % 24
	m := int(d/time.Minute) % 60
	s := int(d/time.Second) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, h, m, s)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	}
	return strconv.Itoa(s) + "s"
}

// USD reads "$0.0123" under a dollar and "$12.34" from one.
func USD(v float64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if v < 1 {
		return sign + "$" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return sign + "$" + strconv.FormatFloat(v, 'f', 2, 64)
}
