package driver

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		// beforeFlush is the output before Flush; want after.
		beforeFlush string
		want        string
	}{
		{name: "one line", writes: []string{"hello\n"}, beforeFlush: "P hello\n", want: "P hello\n"},
		{name: "lines in one write", writes: []string{"a\nb\n"}, beforeFlush: "P a\nP b\n", want: "P a\nP b\n"},
		{name: "partial line joined", writes: []string{"he", "llo\nwor", "ld\n"}, beforeFlush: "P hello\nP world\n", want: "P hello\nP world\n"},
		{name: "trailing partial flushed", writes: []string{"done\nno newline"}, beforeFlush: "P done\n", want: "P done\nP no newline\n"},
		{name: "empty lines keep prefix", writes: []string{"\n\n"}, beforeFlush: "P \nP \n", want: "P \nP \n"},
		{name: "nothing", writes: nil, beforeFlush: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w := NewPrefixWriter(&buf, "P ")
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if diff := cmp.Diff(tt.beforeFlush, buf.String()); diff != "" {
				t.Errorf("before flush (-want +got):\n%s", diff)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("after flush (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrefixWriterLongLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewPrefixWriter(&buf, "P ")
	long := strings.Repeat("x", maxPartialLine)
	w.Write([]byte(long))
	if got, want := buf.String(), "P "+long+"\n"; got != want {
		t.Errorf("a line longer than the limit is not written out: got %d bytes, want %d", len(got), len(want))
	}
}
