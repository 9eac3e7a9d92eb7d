package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/skynomad/skynomad/driver/proc"
)

// A serving runner (`driver --serve`) runs one node after another, as the
// engine assigns them on its standard input, so that a short task does
// not pay for starting a runner. For each node it holds the node's lock
// while it runs it, as a runner started for that node alone would hold the
// descriptor it inherits: the lock is the node's liveness. When its input
// ends (the engine is gone) it exits once the node in hand is done; a
// SIGTERM ends the node in hand, as it would a lone runner's, and then the
// runner itself.

// Assignment is one node for a serving runner, one JSON document per line.
type Assignment struct {
	// Env is the node's environment, as a lone runner would get it.
	Env   []string `json:"env"`
	Phase Phase    `json:"phase"`
	// Log receives the node's prefixed output (appended).
	Log string `json:"log"`
	// Lock is the node's lock file, held while the node runs.
	Lock string `json:"lock"`
}

// Reply answers an assignment: once Started (or Error, and the runner
// waits for the next assignment), then once Done with the runner's exit
// code. Exiting says the runner stops after this node.
type Reply struct {
	Started bool   `json:"started,omitempty"`
	Error   string `json:"error,omitempty"`
	Done    bool   `json:"done,omitempty"`
	Code    int    `json:"code,omitempty"`
	Exiting bool   `json:"exiting,omitempty"`
}

// Serve runs the nodes assigned on in, one at a time, answering on out,
// until in ends or a signal ends the node in hand. Diagnostics go to
// stderr. It returns the exit code of the process.
func Serve(ctx context.Context, in io.Reader, out, stderr io.Writer, peers PeersFunc) int {
	s := &server{enc: json.NewEncoder(out)}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go s.onSignals(sigs)

	dec := json.NewDecoder(in)
	for {
		var a Assignment
		if err := dec.Decode(&a); err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(stderr, "skynomad driver: reading an assignment: %v\n", err)
			}
			return 0 // the engine is gone
		}
		code, exiting, err := s.run(ctx, a, peers)
		if err != nil {
			s.reply(Reply{Error: err.Error()})
			continue
		}
		s.reply(Reply{Done: true, Code: code, Exiting: exiting})
		if exiting {
			return code
		}
	}
}

type server struct {
	enc *json.Encoder

	mu         sync.Mutex
	cancel     context.CancelFunc // the node in hand's, nil when idle
	terminated bool
}

func (s *server) reply(r Reply) {
	if err := s.enc.Encode(r); err != nil {
		os.Exit(TerminatedExitCode) // the engine is gone mid-node: nothing to tell
	}
}

// onSignals ends the node in hand on SIGTERM/SIGINT, or the runner when
// it has none.
func (s *server) onSignals(sigs <-chan os.Signal) {
	for range sigs {
		s.mu.Lock()
		s.terminated = true
		cancel := s.cancel
		s.mu.Unlock()
		if cancel == nil {
			os.Exit(TerminatedExitCode)
		}
		cancel()
	}
}

// run runs one node: it takes the node's lock, opens its log, says it
// started, runs the phase(s), and lets the lock go once the result is
// written.
func (s *server) run(ctx context.Context, a Assignment, peers PeersFunc) (code int, exiting bool, err error) {
	if a.Phase == "" {
		a.Phase = PhaseAll
	}
	if a.Phase != PhaseSetup && a.Phase != PhaseRun && a.Phase != PhaseAll {
		return 0, false, fmt.Errorf("phase %q: want setup, run or all", a.Phase)
	}
	lock, err := os.OpenFile(a.Lock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0, false, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return 0, false, fmt.Errorf("lock %s: %w", a.Lock, err)
	}
	// Who holds the lock, for the engine to signal: "<pid> <start ticks>".
	// Cleared before the lock goes, so that nothing of this node signals a
	// runner that went on to another.
	self, err := proc.Stat(os.Getpid())
	if err != nil {
		return 0, false, err
	}
	if err := lock.Truncate(0); err != nil {
		return 0, false, err
	}
	if _, err := lock.WriteAt(fmt.Appendf(nil, "%d %d\n", self.PID, self.StartTicks), 0); err != nil {
		return 0, false, err
	}
	defer lock.Truncate(0)
	log, err := os.OpenFile(a.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, false, err
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.terminated {
		s.mu.Unlock()
		return 0, false, errors.New("the runner is stopping")
	}
	s.cancel = cancel
	s.mu.Unlock()
	s.reply(Reply{Started: true})

	code = runNode(ctx, a.Phase, a.Env, log, log, peers)

	s.mu.Lock()
	s.cancel = nil
	exiting = s.terminated
	s.mu.Unlock()
	return code, exiting, nil
}
