package ui

import (
	"errors"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// UI is everything a command may show or ask.
type UI interface {
	// Output prints one line (fmt.Sprintf of format and args) to stdout.
	Output(format string, args ...any)
	// Success prints "✓ " and the line; Failure prints "✗ " and the line.
	Success(format string, args ...any)
	Failure(format string, args ...any)
	// Warn prints "Warning: " and the line to stderr.
	Warn(format string, args ...any)
	// Info prints a line to stderr: news about what the command does on the
	// side (starting the controller), kept out of its output (-o json).
	Info(format string, args ...any)
	// Table prints a table to stdout.
	Table(t Table)
	// Step starts a long wait: a spinner on a terminal, a line otherwise.
	// Exactly one of Done or Fail ends it.
	Step(msg string) Step
	// Ask prints question followed by " [Y/n]: " and reads one line from
	// stdin; an empty answer is yes. With no answer to read (end of input)
	// it returns an error that wraps ErrNoAnswer.
	Ask(question string) (bool, error)
	// Error prints "Error: " and err to stderr.
	Error(err error)
	// InputError prints an error in what the user gave (a file, a flag) to
	// stderr: headline as is on the first line, in the form editors jump
	// to ("task.yaml:4:13: resources.use_spot: expected a boolean", or
	// "--num-nodes: ..." for a flag), then each non-empty hint on its own
	// indented line ("did you mean ...?", "accepted: ...").
	InputError(headline string, hints ...string)
	// Stdout is where raw output (streamed logs) goes.
	Stdout() io.Writer
	// Interactive reports whether a person is at a terminal.
	Interactive() bool
}

// Step is a long wait in progress.
type Step interface {
	// Update replaces the step's message.
	Update(msg string)
	// Done ends the step successfully, showing msg (the step's own message
	// when msg is empty).
	Done(msg string)
	// Fail ends the step unsuccessfully, showing msg.
	Fail(msg string)
}

// ErrNoAnswer means Ask had no input to read: the caller was not run by a
// person and did not pass -y.
var ErrNoAnswer = errors.New("no answer to read from standard input")

// New returns the interactive UI when both stdin and stdout are terminals,
// the plain one otherwise.
func New(in io.Reader, out, errOut io.Writer) UI {
	if isTerminal(in) && isTerminal(out) {
		return NewInteractive(in, out, errOut)
	}
	return NewPlain(in, out, errOut)
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
