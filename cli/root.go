package cli

import (
	"context"
	"errors"
	"io"
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

// inputError is an error in what the user gave: a task file, the
// configuration file or a flag (*translator.Error, *config.Error).
type inputError interface {
	error
	// Headline is "path:line:col: field: message" or "--flag: message".
	Headline() string
	// Hints say what would be accepted.
	Hints() []string
}

var (
	_ inputError = (*translator.Error)(nil)
	_ inputError = (*config.Error)(nil)
)

// report prints err; an error in the user's input first names its place,
// in the form editors jump to, then what would be accepted.
func report(u ui.UI, err error) {
	if ie, ok := errors.AsType[inputError](err); ok {
		u.InputError(ie.Headline(), ie.Hints()...)
		return
	}
	u.Error(err)
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
		newAutoscalerCommand(io),
		newCatalogCommand(io),
		newDashboardCommand(io),
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
		newPoolCommand(io),
	)
	return jobs
}
