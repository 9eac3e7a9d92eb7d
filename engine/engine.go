// Package engine is the seam between the managed-jobs controller and the
// thing that runs attempts: Nomad (engine/nomad) or this host (engine/local).
//
// An engine places one attempt of one task, reports what happens to it as
// Events, streams its logs and stops it. It never decides about recovery: it
// says what happened (exited in setup with code 3, node lost, stopped by an
// operator) and the controller decides what that means.
//
// NewAttempt builds the Attempt an engine gets, for the controller and for
// `skynomad translate` alike. Beside Engine sit the optional capabilities
// (Checker, Preempter, Queuer), found by type assertion; each
// implementation states its own with a compile-time check. The
// conformance suite every engine passes is engine/enginetest.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// Ref names one attempt of one task of one managed job.
type Ref struct {
	JobID   int64 `json:"job_id"`
	Task    int   `json:"task"`
	Attempt int   `json:"attempt"` // 1-based; a new number for every launch
}

func (r Ref) String() string {
	return fmt.Sprintf("job %d task %d attempt %d", r.JobID, r.Task, r.Attempt)
}

// Attempt is everything an engine needs to place one attempt.
type Attempt struct {
	Ref Ref `json:"ref"`
	// JobName is the managed job's name (the pipeline name for a pipeline).
	JobName string `json:"job_name"`
	// Pipeline is true when the task is one of a pipeline's tasks.
	Pipeline bool `json:"pipeline,omitempty"`
	// Task is the task, with Resources set to the chosen candidate.
	Task task.Task `json:"task"`
	// Choice is the optimizer's placement for this attempt.
	Choice catalog.Choice `json:"choice"`
	// Env holds the SKYPILOT_* variables the controller knows (task id, task
	// ids, job id, num nodes, gpus per node, job rank, num jobs) followed by
	// the task's envs. Per-node variables (rank, node IPs, cluster info) are
	// added by the runner on each node.
	Env []task.EnvVar `json:"env"`
	// Secrets reach the task's environment but are never written into a
	// jobspec or a log.
	Secrets []task.EnvVar `json:"secrets,omitempty"`
	// Pool is the worker pool the attempt runs on, if any.
	Pool string `json:"pool,omitempty"`
	// SkipSetup is set for jobs submitted to a pool (workers ran setup).
	SkipSetup bool `json:"skip_setup,omitempty"`
	// Worker is set for a job submitted to a pool: the attempt of the pool
	// worker it runs on. The engine places the attempt beside that worker
	// (on its node, in its workdir, with its HOME) and nowhere else.
	Worker *Ref `json:"worker,omitempty"`
	// Files is what each node fetches before setup (the runner does,
	// bucket/node): the workdir and local file mounts uploaded to the
	// job-files bucket, and the bucket mounts. The engine hands it to the
	// runner in node.EnvFiles and does not copy the task's local paths
	// itself when Files has them.
	Files node.Files `json:"files,omitzero"`
	// FilesEnv is the store credentials and endpoints the nodes need for
	// Files. Like Secrets, it reaches the runner's environment but is
	// never written into a jobspec or a log.
	FilesEnv []task.EnvVar `json:"files_env,omitempty"`
	// Group is the job group's name when the attempt runs a job group:
	// Members, one per task, start together, each member's nodes answer
	// to task.Hostname(Group, member, rank), and the attempt ends as
	// Members' Primary flags say (GroupOutcome). Task, Choice, Env,
	// Secrets and Files above repeat the first member's.
	Group   string   `json:"group,omitempty"`
	Members []Member `json:"members,omitempty"`
	// Isolated: the group's nodes get no hostnames of each other
	// (inter_connection: false).
	Isolated bool `json:"isolated,omitempty"`
}

// Member is one task of a job group's attempt.
type Member struct {
	Task    task.Task      `json:"task"`
	Choice  catalog.Choice `json:"choice"`
	Env     []task.EnvVar  `json:"env"`
	Secrets []task.EnvVar  `json:"secrets,omitempty"`
	Files   node.Files     `json:"files,omitzero"`
	// Primary members' ends end the group; the others (auxiliary) are
	// stopped TerminationDelay after the last primary member succeeded.
	Primary          bool          `json:"primary,omitempty"`
	TerminationDelay time.Duration `json:"termination_delay,omitempty"`
}

// Nodes is how many nodes the attempt runs: its task's, or every
// member's for a job group.
func (a *Attempt) Nodes() int {
	if len(a.Members) == 0 {
		return max(a.Task.NumNodes, 1)
	}
	n := 0
	for _, m := range a.Members {
		n += max(m.Task.NumNodes, 1)
	}
	return n
}

// IsWorker reports whether the attempt runs a pool worker: the pool's
// setup, then WorkerRun until it is stopped.
func (a *Attempt) IsWorker() bool { return a.Task.Pool != nil }

// WorkerRun is the run section of a pool worker: it holds the worker (its
// node, its workdir) until the worker is stopped. Jobs submitted to the
// pool run beside it as attempts of their own.
const WorkerRun = "exec sleep infinity"

// EventKind says what happened to an attempt.
type EventKind string

const (
	// Placed: the attempt has its node(s).
	EventPlaced EventKind = "placed"
	// SetupStarted / Running: the phase started on every node.
	EventSetupStarted EventKind = "setup_started"
	EventRunning      EventKind = "running"
	// Exited: setup or run ended on the attempt; Phase and ExitCode say how.
	// ExitCode 0 with PhaseRun is success.
	EventExited EventKind = "exited"
	// Preempted: node lost, spot notice, node down. Recovered without limit.
	// With Event.Replacement set the engine has already relaunched it.
	EventPreempted EventKind = "preempted"
	// Stopped: the attempt was stopped by skynomad's own Stop.
	EventStopped EventKind = "stopped"
	// OperatorStopped: someone outside skynomad stopped it (`nomad job stop`);
	// the managed job becomes CANCELLED.
	EventOperatorStopped EventKind = "operator_stopped"
	// NoCapacity: the attempt could not be placed in time; the controller
	// moves to the next candidate.
	EventNoCapacity EventKind = "no_capacity"
	// PreemptionNotice: a spot notice arrived; Deadline says when the node
	// goes. Informational: a Preempted event follows.
	EventPreemptionNotice EventKind = "preemption_notice"
)

// Phase is the part of the task a runner was in.
type Phase string

const (
	PhaseSetup Phase = "setup"
	PhaseRun   Phase = "run"
)

// Event is one observation about one attempt. Engines may deliver the same
// event more than once (after a reconnect); the controller is idempotent.
type Event struct {
	Ref      Ref       `json:"ref"`
	Kind     EventKind `json:"kind"`
	Time     time.Time `json:"time"`
	Phase    Phase     `json:"phase,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
	// Node names where it happened (node name or id; "local" on this host).
	Node string `json:"node,omitempty"`
	// Reason is a short human sentence for the controller log.
	Reason   string    `json:"reason,omitempty"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Replacement is set on a Preempted event when the engine already
	// relaunched the attempt by itself (Nomad placed a replacement): the
	// replacement runs as this attempt, normally Ref.Attempt+1, on the same
	// Choice, and its events carry that Ref. The controller records it as
	// launched and does not call Launch for it. Nil: nothing was relaunched.
	Replacement *Ref `json:"replacement,omitempty"`
}

// Sink receives events. Engines call it from their own goroutines; it must
// not block for long.
type Sink func(Event)

// LogOptions selects what Logs returns.
type LogOptions struct {
	Follow bool
	// Tail, when > 0, starts that many lines from the end.
	Tail int
}

// Engine is the seam. Implementations: engine/local, engine/nomad, and the
// controller tests' enginetest.Fake; engine/enginetest is the conformance
// suite all three pass.
type Engine interface {
	// Name is "local" or "nomad".
	Name() string
	// Offerings lists what this engine can place attempts on; the optimizer
	// plans over them.
	Offerings(ctx context.Context) ([]catalog.Offering, error)
	// Launch places the attempt. It is idempotent per Ref: launching an
	// attempt that already exists does nothing. Events follow on the sink.
	Launch(ctx context.Context, a *Attempt) error
	// Resume re-attaches to an attempt after a controller restart and emits
	// events for whatever happened meanwhile (an Exited event if it ended).
	// It returns ErrNotFound if the attempt was never launched.
	Resume(ctx context.Context, a *Attempt) error
	// Stop terminates the attempt (SIGTERM, grace period, SIGKILL on every
	// node) and returns once it is gone; a Stopped event follows. Stopping a
	// finished or unknown attempt is not an error.
	Stop(ctx context.Context, ref Ref) error
	// Logs streams the attempt's output (all nodes, prefixed).
	Logs(ctx context.Context, ref Ref, opts LogOptions) (io.ReadCloser, error)
}

// The optional capabilities below are found by type assertion; each
// implementation states the ones it has with a compile-time check
// (var _ engine.Queuer = (*Engine)(nil)).

// Checker is an optional capability: refuse a task the engine can never
// run. The job ends FAILED_PRECHECKS when Check returns an
// InfeasibleError.
type Checker interface {
	Check(t task.Task) error
}

// Preempter is an optional capability: deliver a preemption to a running
// attempt, as a spot reclaim would. With notice > 0 the task first gets a
// SIGTERM and SKYPILOT_PREEMPTION_DEADLINE, then is killed at the deadline.
// Used by tests and demos (fault injection).
type Preempter interface {
	Preempt(ctx context.Context, ref Ref, notice time.Duration) error
}

// Queuer is an optional capability of an engine whose Launch hands the
// attempt to a scheduler that queues it (Nomad): once Launch returns, the
// controller gives back the attempt's launch slot instead of holding it
// until the attempt runs.
type Queuer interface {
	QueuesLaunches() bool
}

// Link is a titled URL into an engine's own UI.
type Link struct {
	Title string
	URL   string
}

// Linker is an optional capability: where an attempt shows in the
// engine's own UI (Nomad: the job and its allocations in the Nomad UI).
type Linker interface {
	Links(ref Ref) []Link
}

// NodeInfo is one node of the engine's cluster.
type NodeInfo struct {
	Name string
	// Class is the node class (an offering's: catalog.Choice.NodeClass).
	Class string
	// Status is initializing (booting), ready or down.
	Status string
	Drain  bool
	Spot   bool
	Link   string
}

// NodeLister is an optional capability: the nodes that run attempts, for
// the capacity page.
type NodeLister interface {
	Nodes(ctx context.Context) ([]NodeInfo, error)
}

// ErrNotFound means the engine knows nothing of that attempt.
var ErrNotFound = errors.New("attempt not found")

// InfeasibleError says the engine can never run the request: the reason
// becomes FAILED_PRECHECKS.
type InfeasibleError struct{ Reason string }

func (e *InfeasibleError) Error() string { return e.Reason }

// Infeasible builds an InfeasibleError.
func Infeasible(format string, args ...any) error {
	return &InfeasibleError{Reason: fmt.Sprintf(format, args...)}
}

// IsInfeasible reports whether err is (or wraps) an InfeasibleError.
func IsInfeasible(err error) bool {
	var ie *InfeasibleError
	return errors.As(err, &ie)
}
