package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
)

// nodeName is the Event.Node of every local event.
const nodeName = "local"

// Files of an attempt directory.
const (
	attemptFile     = "attempt.json"         // the Attempt, without secrets
	stoppedFile     = "stopped"              // Stop began: the end is Stopped
	preemptedFile   = "preempted"            // Preempt began: the end is Preempted
	eventFile       = "event.json"           // the terminal event, once emitted
	runGateFile     = "run-gate"             // created once setup succeeded on every node
	mountsDir       = "mounts"               // copies of the mounts placed on this host
	mountsReadyFile = "mounts-ready"         // every mount was copied and linked
	attemptMarker   = "SKYNOMAD_ATTEMPT_DIR" // in every process of the attempt
)

// Files of a node sandbox node-<rank>/.
const (
	workdirName = "sky_workdir"
	setupScript = "setup.sh"
	runScript   = "run.sh"
	outputLog   = "output.log"
	lockFile    = "runner.lock" // held by the live runner
	phaseFile   = "phase"
	resultFile  = "result.json"
	pgidFile    = "user.pgid"
	noticeFile  = "preemption-deadline"
)

func (e *Engine) attemptDir(ref engine.Ref) string {
	return filepath.Join(e.cfg.Dir, "attempts", fmt.Sprintf("%d-%d-%d", ref.JobID, ref.Task, ref.Attempt))
}

func nodeDir(dir string, rank int) string {
	return filepath.Join(dir, fmt.Sprintf("node-%d", rank))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readAttempt reads attempt.json; fs.ErrNotExist if the attempt was never
// launched.
func readAttempt(dir string) (*engine.Attempt, error) {
	b, err := os.ReadFile(filepath.Join(dir, attemptFile))
	if err != nil {
		return nil, err
	}
	var a engine.Attempt
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, attemptFile), err)
	}
	return &a, nil
}

func writeAttempt(dir string, a *engine.Attempt) error {
	rec := *a
	rec.Secrets, rec.FilesEnv = nil, nil // they reach the task's environment only
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, attemptFile), append(b, '\n'))
}

// readEvent reads the terminal event, if the attempt has ended.
func readEvent(dir string) (*engine.Event, error) {
	b, err := os.ReadFile(filepath.Join(dir, eventFile))
	if err != nil {
		return nil, err
	}
	var ev engine.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, eventFile), err)
	}
	return &ev, nil
}

func writeEvent(dir string, ev engine.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, eventFile), append(b, '\n'))
}

// runnerPID is a recorded runner process.
type runnerPID struct {
	pid   int
	ticks uint64
}

func readRunnerPID(node string) (runnerPID, bool) {
	b, err := os.ReadFile(filepath.Join(node, lockFile))
	if err != nil {
		return runnerPID{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return runnerPID{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	ticks, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return runnerPID{}, false
	}
	return runnerPID{pid: pid, ticks: ticks}, true
}

// writeFileAtomic replaces path with data (temporary file, then rename).
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// nodeState is what a watcher sees of one node.
type nodeState struct {
	launched bool
	alive    bool
	phase    driver.Phase
	result   *driver.Result
}

// done: the node's runner was started and has ended.
func (n nodeState) done() bool { return n.launched && !n.alive }

// observeNode reads a node's state from its sandbox.
func observeNode(node string) nodeState {
	var st nodeState
	st.alive = lockHeld(filepath.Join(node, lockFile))
	st.launched = st.alive || leftMarks(node)
	if !st.launched {
		return st
	}
	if b, err := os.ReadFile(filepath.Join(node, phaseFile)); err == nil {
		st.phase = driver.Phase(strings.TrimSpace(string(b)))
	}
	if r, err := driver.ReadResult(filepath.Join(node, resultFile)); err == nil {
		st.result = &r
	}
	return st
}
