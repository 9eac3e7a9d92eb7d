package cli

import (
	"errors"
	"fmt"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

// Exit codes of the skynomad command (docs/cli.md lists them).
const (
	ExitOK = 0
	// ExitError: the command failed (bad task file, controller unreachable,
	// declined confirmation, usage error).
	ExitError = 1
	// Exit codes for a job that `jobs launch` followed to a non-success end.
	ExitFailed           = 100
	ExitFailedSetup      = 101
	ExitFailedPrechecks  = 102
	ExitFailedNoResource = 103
	ExitFailedController = 104
	ExitCancelled        = 105
	// ExitInterrupted: the command was interrupted (Ctrl-C); the job goes on.
	ExitInterrupted = 130
)

// statusExitCode is the exit code of a finished job's status.
func statusExitCode(s api.Status) int {
	switch s {
	case api.StatusSucceeded:
		return ExitOK
	case api.StatusFailed:
		return ExitFailed
	case api.StatusFailedSetup:
		return ExitFailedSetup
	case api.StatusFailedPrechecks:
		return ExitFailedPrechecks
	case api.StatusFailedNoResource:
		return ExitFailedNoResource
	case api.StatusFailedController:
		return ExitFailedController
	case api.StatusCancelled:
		return ExitCancelled
	}
	return ExitError
}

// exitError carries a process exit code (e.g. a job's result) up to main.
// A nil err means everything was already said to the user.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withExitCode wraps err so main exits with code. With a nil err nothing
// more is printed.
func withExitCode(code int, err error) error { return &exitError{code: code, err: err} }

// ExitCode is the process exit code for err: 0 for nil, its own, or 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}

// silent reports whether err has nothing left to print.
func silent(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.err == nil
}

// confirm asks question unless yes; a "no" ends the command with exit code
// 1 after "Aborted.".
func confirm(u ui.UI, yes bool, question string) error {
	if yes {
		return nil
	}
	ok, err := u.Ask(question)
	if err != nil {
		return err
	}
	if !ok {
		u.Output("Aborted.")
		return withExitCode(ExitError, nil)
	}
	return nil
}
