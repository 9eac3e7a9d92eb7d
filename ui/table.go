package ui

import (
	"strings"
	"unicode/utf8"
)

// Align is a column's alignment.
type Align int

const (
	AlignLeft Align = iota
	AlignCenter
	AlignRight
)

// TableStyle picks between the two table looks SkyPilot uses.
type TableStyle int

const (
	// StyleCompact: columns two spaces apart, no rules (`jobs queue`).
	StyleCompact TableStyle = iota
	// StyleRuled: a leading space, columns three spaces apart, dashed rules
	// above and below the header and after the last row ("Considered
	// resources").
	StyleRuled
)

// Table is rows of cells under headers. Rows shorter than Headers are
// padded with empty cells.
type Table struct {
	Headers []string
	Rows    [][]string
	// Align per column; missing entries are AlignLeft.
	Align []Align
	Style TableStyle
}

// Lines renders the table; no line carries trailing spaces.
func (t Table) Lines() []string {
	widths := make([]int, len(t.Headers))
	measure := func(row []string) {
		for i, cell := range row {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(cell))
			}
		}
	}
	measure(t.Headers)
	for _, r := range t.Rows {
		measure(r)
	}
	gap, lead := "  ", ""
	if t.Style == StyleRuled {
		gap, lead = "   ", " "
	}
	format := func(row []string) string {
		var b strings.Builder
		b.WriteString(lead)
		for i, w := range widths {
			if i > 0 {
				b.WriteString(gap)
			}
			cell := ""
			if i < len(row) {
				cell = row[i]
			}
			b.WriteString(pad(cell, w, t.align(i)))
		}
		return strings.TrimRight(b.String(), " ")
	}
	total := len(lead) + len(gap)*max(len(widths)-1, 0)
	for _, w := range widths {
		total += w
	}
	rule := strings.Repeat("-", total+1)

	var lines []string
	if t.Style == StyleRuled {
		lines = append(lines, rule)
	}
	lines = append(lines, format(t.Headers))
	if t.Style == StyleRuled {
		lines = append(lines, rule)
	}
	for _, r := range t.Rows {
		lines = append(lines, format(r))
	}
	if t.Style == StyleRuled {
		lines = append(lines, rule)
	}
	return lines
}

func (t Table) align(i int) Align {
	if i < len(t.Align) {
		return t.Align[i]
	}
	return AlignLeft
}

func pad(s string, width int, a Align) string {
	n := width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	switch a {
	case AlignRight:
		return strings.Repeat(" ", n) + s
	case AlignCenter:
		left := n / 2
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", n-left)
	default:
		return s + strings.Repeat(" ", n)
	}
}
