package driver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Phase is the part of a task the runner executes.
type Phase string

const (
	PhaseSetup Phase = "setup"
	PhaseRun   Phase = "run"
	// PhaseAll runs setup, then run if setup succeeded.
	PhaseAll Phase = "all"
)

// Result is what the runner writes after each phase, so an engine can tell
// a failed setup from a failed run and a termination from an exit.
type Result struct {
	Phase Phase `json:"phase"`
	// ExitCode is bash's exit code, or 128+signal when a signal killed it.
	ExitCode int `json:"exit_code"`
	// Signal names the signal that killed bash ("SIGKILL"), if any.
	Signal     string    `json:"signal"`
	FinishedAt time.Time `json:"finished_at"`
	// Terminated is true when the runner was told to stop (SIGTERM/SIGINT)
	// while the phase ran or before it started.
	Terminated bool `json:"terminated"`
	// Skipped is true when the phase had no script.
	Skipped bool `json:"skipped,omitempty"`
}

// Final reports whether r ends the runner's work: a run phase, or a setup
// that failed or was terminated (the run phase never follows those).
func (r Result) Final() bool {
	return r.Phase == PhaseRun || r.ExitCode != 0 || r.Terminated
}

// ReadResult reads a result file.
func ReadResult(path string) (Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("result %s: %w", path, err)
	}
	return r, nil
}

// WriteResult writes r to path atomically (temporary file, then rename).
func WriteResult(path string, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic replaces path with data so readers never see a partial
// file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := firstErr(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
