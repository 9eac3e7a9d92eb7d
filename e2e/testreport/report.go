package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/skynomad/skynomad/internal/realagent"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// report accumulates the stream and prints as results arrive.
type report struct {
	w io.Writer
	// output holds each running test's lines until its result is known.
	output map[string][]string
	// real maps a test that used a real agent to its result.
	real    map[string]string
	skipped []string
	failed  int
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[string][]string{}, real: map[string]string{}}
}

func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(r.w, sc.Text()) // not an event: pass it on
			continue
		}
		r.handle(e)
	}
}

func (r *report) handle(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Test == "" && e.Action == "output":
		if e.Output != "PASS\n" && e.Output != "FAIL\n" && !strings.HasPrefix(e.Output, "=== ") {
			fmt.Fprint(r.w, e.Output)
		}
	case e.Test == "":
	case e.Action == "output":
		r.output[key] = append(r.output[key], e.Output)
		if strings.Contains(e.Output, realagent.Marker) {
			r.real[key] = "running"
		}
	case e.Action == "pass" || e.Action == "fail" || e.Action == "skip":
		lines := r.output[key]
		delete(r.output, key)
		if _, ok := r.real[key]; ok {
			r.real[key] = e.Action
		}
		switch e.Action {
		case "fail":
			r.failed++
			fmt.Fprint(r.w, strings.Join(lines, ""))
		case "skip":
			r.skipped = append(r.skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(lines)))
		}
	}
}

// skipReason is the message the test gave t.Skip, the lines between its
// "=== RUN" and "--- SKIP" lines.
func skipReason(lines []string) string {
	var why []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		why = append(why, t)
	}
	return strings.Join(why, " ")
}

func (r *report) summary() {
	if len(r.skipped) > 0 {
		fmt.Fprintf(r.w, "skipped (%d):\n", len(r.skipped))
		for _, s := range r.skipped {
			fmt.Fprintln(r.w, "  "+s)
		}
	}
	counts := map[string]int{}
	byPkg := map[string][]string{}
	for key, result := range r.real {
		counts[result]++
		pkg, test, _ := strings.Cut(key, " ")
		byPkg[pkg] = append(byPkg[pkg], test+resultSuffix(result))
	}
	fmt.Fprintf(r.w, "real-agent tests: %d passed, %d failed, %d skipped\n", counts["pass"], counts["fail"], counts["skip"])
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		sort.Strings(byPkg[p])
		fmt.Fprintf(r.w, "  %s: %s\n", p, strings.Join(byPkg[p], " "))
	}
}

func resultSuffix(result string) string {
	if result == "pass" {
		return ""
	}
	return "(" + result + ")"
}
