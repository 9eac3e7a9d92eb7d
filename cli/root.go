package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/translator"
	"github.com/skynomad/skynomad/ui"
)

// IO is what a command may touch of the outside world.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv in main; a map in tests).
	Getenv func(string) string
	// Environ is the whole environment (os.Environ in main), for commands
	// that hand it on (driver).
	Environ func() []string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// dial replaces the way to the controller (tests).
	dial func(ctx context.Context) (controllerAPI, error)
}

func (io IO) now() time.Time {
	if io.Now == nil {
		return time.Now()
	}
	return io.Now()
}

// Main runs the skynomad command with args (without the program name),
// reports any error through the UI and returns the process exit code.
func Main(ctx context.Context, io IO, args []string) int {
	root := NewRootCommand(io)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !silent(err) {
		report(ui.New(nil, io.Stdout, io.Stderr), err)
	}
	return ExitCode(err)
}

// report prints err with the context lines a person needs to fix it.
func report(u ui.UI, err error) {
	var te *translator.Error
	var ce *config.Error
	switch {
	case errors.As(err, &te):
		u.Error(errors.New(fieldMsg(te.Field, te.Msg)),
			ui.Filename(te.File), ui.Position(position(te.Line, te.Col)), ui.Suggestions(suggestion(te.Suggestion, te.Accepted)))
	case errors.As(err, &ce):
		u.Error(errors.New(fieldMsg(ce.Key, ce.Msg)), ui.Filename(ce.File), ui.Position(position(ce.Line, ce.Col)))
	default:
		u.Error(err)
	}
}

// NewRootCommand builds the `skynomad` command tree.
func NewRootCommand(io IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "skynomad",
		Short:         "Run SkyPilot managed jobs on HashiCorp Nomad (or on this host)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.Stdin)
	root.SetOut(io.Stdout)
	root.SetErr(io.Stderr)
	root.AddCommand(
		newJobsCommand(io),
		newControllerCommand(io),
		newTranslateCommand(io),
		newDriverCommand(io),
		newInterruptCommand(io),
	)
	return root
}

// newJobsCommand is the `skynomad jobs` group.
func newJobsCommand(io IO) *cobra.Command {
	jobs := &cobra.Command{
		Use:   "jobs",
		Short: "Launch, list, follow and cancel managed jobs",
	}
	jobs.AddCommand(
		newLaunchCommand(io),
		newQueueCommand(io),
		newLogsCommand(io),
		newCancelCommand(io),
		newPreemptCommand(io),
	)
	return jobs
}

// fieldMsg is a located error's message without its location, which the
// context lines carry.
func fieldMsg(field, msg string) string {
	if field == "" {
		return msg
	}
	return field + ": " + msg
}

// position is "line:col", or "" for an error with no place in the file.
func position(line, col int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf("%d:%d", line, max(col, 1))
}

func suggestion(nearest, accepted string) string {
	var parts []string
	if nearest != "" {
		parts = append(parts, fmt.Sprintf("did you mean %q?", nearest))
	}
	if accepted != "" {
		parts = append(parts, "accepted: "+accepted)
	}
	return strings.Join(parts, " ")
}
