package translator

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestErrorLines: an Error reads as a first line that editors jump to
// (path:line:col: field: message, or the flag for a command-line value),
// then what would be accepted; Error() puts both on one line.
func TestErrorLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		err          *Error
		wantHeadline string
		wantHints    []string
		wantError    string
	}{
		{
			name: "field in a file",
			err: &Error{File: "examples/bad/unknown-field.yaml", Line: 4, Col: 3, Field: "resources.accelerator",
				Msg: "unknown field", Accepted: "accelerators, cpus", Suggestion: "accelerators"},
			wantHeadline: "examples/bad/unknown-field.yaml:4:3: resources.accelerator: unknown field",
			wantHints:    []string{`did you mean "accelerators"?`, "accepted: accelerators, cpus"},
			wantError:    `examples/bad/unknown-field.yaml:4:3: resources.accelerator: unknown field; did you mean "accelerators"? accepted: accelerators, cpus`,
		},
		{
			name:         "flag",
			err:          &Error{Field: "--num-nodes", Msg: `"two" is not an integer`, Accepted: "an integer >= 1"},
			wantHeadline: `--num-nodes: "two" is not an integer`,
			wantHints:    []string{"accepted: an integer >= 1"},
			wantError:    `--num-nodes: "two" is not an integer; accepted: an integer >= 1`,
		},
		{
			name:         "column unknown",
			err:          &Error{File: "t.yaml", Line: 2, Msg: "not valid YAML: found unexpected end of stream"},
			wantHeadline: "t.yaml:2:1: not valid YAML: found unexpected end of stream",
			wantError:    "t.yaml:2:1: not valid YAML: found unexpected end of stream",
		},
		{
			name:         "whole file",
			err:          &Error{File: "p.yaml", Field: "pool", Msg: "a pool file holds one task"},
			wantHeadline: "p.yaml: pool: a pool file holds one task",
			wantError:    "p.yaml: pool: a pool file holds one task",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Headline(); got != tt.wantHeadline {
				t.Errorf("Headline() = %q, want %q", got, tt.wantHeadline)
			}
			if diff := cmp.Diff(tt.wantHints, tt.err.Hints()); diff != "" {
				t.Errorf("Hints() (-want +got):\n%s", diff)
			}
			if got := tt.err.Error(); got != tt.wantError {
				t.Errorf("Error() = %q, want %q", got, tt.wantError)
			}
		})
	}
}
