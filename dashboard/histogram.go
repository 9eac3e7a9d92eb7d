package dashboard

import (
	"math"
	"strconv"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// histogram is the jobs page's chart: the listed jobs by submission time,
// one bar per time bucket, stacked by current status.
type histogram struct {
	Width, Height float64
	PlotTop       float64
	PlotBottom    float64
	Bars          []histBar
	Ticks         []histTick
	Legend        []legendItem
	Max           int
	Bucket        string // "1 hr per bar"
	Summary       string // the chart in words, for screen readers
}

type histBar struct {
	X, W float64
	Segs []histSeg
}

type histSeg struct {
	Y, H  float64
	Class string
	Title string
}

type histTick struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor ("" : start)
}

type legendItem struct {
	Label string
	Class string
	Count int
}

// bucketSizes are the bar widths to choose from, smallest first.
var bucketSizes = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 2 * 24 * time.Hour,
	7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour, 91 * 24 * time.Hour,
	365 * 24 * time.Hour,
}

// maxBars bounds the bars: the smallest bucket that keeps to it is chosen,
// which gives 20 to 48 bars once the jobs span more than a few minutes.
const maxBars = 48

const (
	histWidth  = 960.0
	histHeight = 150.0
	histTop    = 8.0
	histBottom = 128.0 // the plot's base line; time labels below
	histLeft   = 36.0  // room for the count label
)

// newHistogram charts jobs (any order); nil when there are none.
func newHistogram(jobs []*api.Job) *histogram {
	if len(jobs) == 0 {
		return nil
	}
	lo, hi := jobs[0].SubmittedAt, jobs[0].SubmittedAt
	for _, j := range jobs[1:] {
		if j.SubmittedAt.Before(lo) {
			lo = j.SubmittedAt
		}
		if j.SubmittedAt.After(hi) {
			hi = j.SubmittedAt
		}
	}
	size := bucketSizes[len(bucketSizes)-1]
	for _, s := range bucketSizes {
		if int(hi.Sub(lo.Truncate(s))/s)+1 <= maxBars {
			size = s
			break
		}
	}
	start := lo.Truncate(size)
	n := int(hi.Sub(start)/size) + 1
	counts := make([][]int, n) // bucket → status rank → jobs
	for i := range counts {
		counts[i] = make([]int, len(api.AllStatuses)+1)
	}
	totals := make([]int, len(api.AllStatuses)+1)
	for _, j := range jobs {
		b := min(max(int(j.SubmittedAt.Sub(start)/size), 0), n-1)
		r := statusRank(j.Status)
		counts[b][r]++
		totals[r]++
	}
	peak := 0
	for _, c := range counts {
		sum := 0
		for _, k := range c {
			sum += k
		}
		peak = max(peak, sum)
	}

	h := &histogram{
		Width: histWidth, Height: histHeight, PlotTop: histTop, PlotBottom: histBottom,
		Max: peak, Bucket: bucketName(size) + " per bar",
	}
	barW := (histWidth - histLeft) / float64(n)
	scale := (histBottom - histTop) / float64(peak)
	h.Bars = make([]histBar, n)
	for b := range counts {
		from := start.Add(time.Duration(b) * size)
		bar := histBar{X: round1(histLeft + float64(b)*barW + 1), W: round1(max(barW-2, 1))}
		y := histBottom
		for r, k := range counts[b] {
			if k == 0 {
				continue
			}
			hgt := float64(k) * scale
			y -= hgt
			bar.Segs = append(bar.Segs, histSeg{
				Y: round1(y), H: round1(hgt), Class: rankClass(r),
				Title: bucketTitle(from, size) + ": " + strconv.Itoa(k) + " " + rankName(r),
			})
		}
		h.Bars[b] = bar
	}
	every := max(1, int(math.Ceil(float64(n)/6)))
	for b := 0; b < n; b += every {
		h.Ticks = append(h.Ticks, histTick{X: round1(histLeft + float64(b)*barW + 1), Label: tickLabel(start.Add(time.Duration(b)*size), size)})
	}
	for r, k := range totals {
		if k > 0 {
			h.Legend = append(h.Legend, legendItem{Label: rankName(r), Class: rankClass(r), Count: k})
		}
	}
	h.Summary = strconv.Itoa(len(jobs)) + " jobs submitted from " + when(lo) + " to " + when(hi) + ", " + h.Bucket
	return h
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func rankClass(r int) string {
	if r < len(api.AllStatuses) {
		return statusClass(api.AllStatuses[r])
	}
	return "s-unknown"
}

func rankName(r int) string {
	if r < len(api.AllStatuses) {
		return string(api.AllStatuses[r])
	}
	return "other"
}

func bucketName(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " sec"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " hr"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " day"
}

func tickLabel(t time.Time, size time.Duration) string {
	t = t.UTC()
	switch {
	case size < time.Minute:
		return t.Format("15:04:05")
	case size < 24*time.Hour:
		return t.Format("Jan 2 15:04")
	}
	return t.Format("Jan 2 2006")
}

func bucketTitle(from time.Time, size time.Duration) string {
	from = from.UTC()
	to := from.Add(size)
	if size < 24*time.Hour {
		return from.Format("2006-01-02 15:04") + "–" + to.Format("15:04") + " UTC"
	}
	return from.Format("2006-01-02") + " – " + to.Format("2006-01-02") + " UTC"
}
