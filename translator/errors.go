package translator

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Error is a problem in a task file or in a command-line override. It names
// where the problem is (file, line, column, or the flag), the field, what is
// wrong, and what would have been accepted.
type Error struct {
	// File is the task file's name as given to Load; empty for a flag.
	File string
	// Line and Col are 1-based; 0 when the problem has no place in the file
	// (a flag, or a file-wide rule).
	Line, Col int
	// Field is the dotted path of the field (resources.accelerators,
	// envs.API_KEY, resources.any_of[1].use_spot) or the flag (--gpus).
	Field string
	// Msg says what is wrong.
	Msg string
	// Accepted lists what would be accepted, comma-separated; may be empty.
	Accepted string
	// Suggestion is the accepted value nearest to what was written.
	Suggestion string
}

// Error renders one line: "file:line:col: field: msg; did you mean "x"? accepted: a, b".
func (e *Error) Error() string {
	s := e.Headline()
	if hints := e.Hints(); len(hints) > 0 {
		s += "; " + strings.Join(hints, " ")
	}
	return s
}

// Headline is the first line of the error as a person reads it, in the
// form editors jump to: "file:line:col: field: msg" ("file: field: msg"
// for a file-wide rule, "--flag: msg" for a command-line value).
func (e *Error) Headline() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, max(e.Col, 1))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Hints are the lines under the headline: the nearest accepted value
// (`did you mean "x"?`) and what would be accepted (`accepted: a, b`).
func (e *Error) Hints() []string {
	var hints []string
	if e.Suggestion != "" {
		hints = append(hints, fmt.Sprintf("did you mean %q?", e.Suggestion))
	}
	if e.Accepted != "" {
		hints = append(hints, "accepted: "+e.Accepted)
	}
	return hints
}

// IsError reports whether err is (or wraps) an *Error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// choices fills Accepted with the choices and Suggestion with the one nearest
// to got, and returns e.
func (e *Error) choices(got string, choices []string) *Error {
	e.Accepted = strings.Join(choices, ", ")
	e.Suggestion = nearestChoice(got, choices)
	return e
}

// accepting sets Accepted and returns e.
func (e *Error) accepting(accepted string) *Error {
	e.Accepted = accepted
	return e
}

// errorAt builds an Error located at n. A node with no line is a
// command-line flag: the path is then the flag and no file is named.
func (d *taskDecoder) errorAt(n *yaml.Node, path, format string, args ...any) *Error {
	e := &Error{Field: path, Msg: fmt.Sprintf(format, args...)}
	switch {
	case n == nil:
		e.File, e.Line, e.Col = d.file, 1, 1
	case n.Line > 0:
		e.File, e.Line, e.Col = d.file, n.Line, n.Column
	}
	return e
}

// yamlLine finds the line number in a yaml.v3 error ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a yaml.v3 parse error into an *Error. yaml.v3 names the
// line but not the column, and leaves the line out on the first line.
func syntaxError(file string, err error) *Error {
	msg := err.Error()
	e := &Error{File: file, Line: 1, Col: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			e.Line = n
		}
		msg = msg[len(m[0]):]
	}
	e.Msg = "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return e
}

// nearestChoice returns the choice closest to got (ignoring case), or "" when
// none is close enough to be a plausible typo: at most one edit per three
// characters, and at least one.
func nearestChoice(got string, choices []string) string {
	g := strings.ToLower(got)
	best, bestDist, bestPrefix := "", -1, 0
	for _, c := range choices {
		lc := strings.ToLower(c)
		dist, prefix := editDistance(g, lc), commonPrefix(g, lc)
		// On a tie, the choice that starts like got wins (H10 → H100, not A10).
		if bestDist < 0 || dist < bestDist || dist == bestDist && prefix > bestPrefix {
			best, bestDist, bestPrefix = c, dist, prefix
		}
	}
	limit := max(1, utf8.RuneCountInString(got)/3)
	if bestDist < 0 || bestDist > limit || got == best {
		return ""
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and
// transpositions of adjacent runes that turn a into b (optimal string
// alignment distance).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// rows[i%3] is row i of the dynamic-programming table.
	rows := [3][]int{make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur, prev, prev2 := rows[i%3], rows[(i-1)%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(ra)%3][len(rb)]
}

// commonPrefix is the length in bytes of the prefix a and b share.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// sortedCopy returns the names sorted, for "accepted:" lists.
func sortedCopy(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return s
}
