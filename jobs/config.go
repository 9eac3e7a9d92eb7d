package jobs

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// Planner ranks the feasible placements of a task (catalog.Catalog.Plan).
// An error means nothing fits under the constraints. It is called from
// several goroutines at once.
type Planner interface {
	Plan(t task.Task, cons catalog.Constraints) ([]catalog.Choice, error)
}

var _ Planner = (*catalog.Catalog)(nil)

// Backoff is an exponential backoff with jitter: the n-th delay (n from 1)
// is Initial × Factor^(n-1), capped at Max, then moved by up to ±Jitter of
// itself at random.
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Max     time.Duration
	Jitter  float64
}

// DefaultBackoff is SkyPilot's launch retry backoff.
var DefaultBackoff = Backoff{Initial: 60 * time.Second, Factor: 1.6, Max: 300 * time.Second, Jitter: 0.4}

// Delay returns the n-th delay (n ≥ 1) using r for the jitter.
func (b Backoff) Delay(n int, r *rand.Rand) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial) * math.Pow(b.Factor, float64(n-1))
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 && r != nil {
		d *= 1 + b.Jitter*(2*r.Float64()-1)
	}
	return time.Duration(d)
}

// Config configures a Controller. Zero fields take the defaults below.
type Config struct {
	// Store holds the state (required).
	Store *store.Store
	// Engine runs attempts (required).
	Engine engine.Engine
	// Events is the queue the engine's sink writes to. Create it with
	// NewEventQueue before the engine and pass its Sink to the engine; nil
	// makes a new one (then give the engine Controller.Sink()).
	Events *EventQueue
	// Planner ranks placements (required): catalog.New(engine offerings).
	Planner Planner
	// Requested renders a task's REQUESTED column ("1x [V100:8][Spot]")
	// (default catalog.Requested).
	Requested func(task.Task) string
	// Clouds restricts planning to these clouds; empty means all.
	Clouds []string
	// Files is the job-files bucket: a job's local workdir and file
	// mounts are uploaded before its first launch and removed once it
	// ends (files.go). Nil: the engine reads the local paths itself.
	Files *bucket.Manager
	// FilesEnv is what the nodes need to reach the stores (credentials,
	// endpoints), handed to the engine like secrets.
	FilesEnv []task.EnvVar
	// StagingDir keeps the local files a CLI on another host sends
	// (bucket/stage) until its job has uploaded them; empty refuses them.
	StagingDir string
	// Logger receives the controller's own log (default: discarded).
	Logger *slog.Logger
	// Observer is told what the controller records (metrics; default:
	// nothing).
	Observer Observer
	// Clock tells the time (default time.Now).
	Clock func() time.Time
	// LogDir holds the per-job controller logs, <LogDir>/<job id>.log
	// (required).
	LogDir string
	// Version is reported by the health endpoint.
	Version string
	// MaxLaunching caps jobs in STARTING or RECOVERING that hold a launch
	// slot (default 4 × NumCPU).
	MaxLaunching int
	// MaxRunning caps jobs that have started and are not finished
	// (0: unlimited).
	MaxRunning int
	// RetryBackoff paces retries after every candidate lacked capacity, and
	// retries of failed engine calls (default DefaultBackoff).
	RetryBackoff Backoff
	// NoCapacityTimeout: a launched attempt that is not placed within this
	// long is treated as lacking capacity (default 15 min; < 0 disables).
	NoCapacityTimeout time.Duration
	// MaxLaunchRetries: after this many exhausted plans in a row the job
	// ends FAILED_NO_RESOURCE (0: retry forever, as SkyPilot).
	MaxLaunchRetries int
	// FailoverTries is how many launches FAILOVER makes in the previous
	// location before going anywhere (default 3).
	FailoverTries int
	// RecentFinished is how many finished jobs `jobs queue` shows without
	// --all (default 50).
	RecentFinished int
	// ViewSize is how many finished jobs the in-memory queue holds besides
	// every unfinished one (default 100,000); older ones are read from the
	// store when asked for.
	ViewSize int
	// LogDrainGrace is how long a followed log stream may keep going after
	// its attempt ended before it is cut (default 5 s).
	LogDrainGrace time.Duration
	// Seed seeds the backoff jitter (default: random).
	Seed uint64
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("jobs: Config.Store is required")
	}
	if c.Engine == nil {
		return errors.New("jobs: Config.Engine is required")
	}
	if c.Planner == nil {
		return errors.New("jobs: Config.Planner is required")
	}
	if c.LogDir == "" {
		return errors.New("jobs: Config.LogDir is required")
	}
	if c.Events == nil {
		c.Events = NewEventQueue()
	}
	if c.Requested == nil {
		c.Requested = catalog.Requested
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MaxLaunching <= 0 {
		c.MaxLaunching = 4 * runtime.NumCPU()
	}
	if c.MaxRunning < 0 {
		c.MaxRunning = 0
	}
	if c.RetryBackoff == (Backoff{}) {
		c.RetryBackoff = DefaultBackoff
	}
	if c.RetryBackoff.Factor < 1 {
		c.RetryBackoff.Factor = 1
	}
	if c.RetryBackoff.Max < c.RetryBackoff.Initial {
		c.RetryBackoff.Max = c.RetryBackoff.Initial
	}
	if c.NoCapacityTimeout == 0 {
		c.NoCapacityTimeout = 15 * time.Minute
	}
	if c.FailoverTries <= 0 {
		c.FailoverTries = 3
	}
	if c.RecentFinished <= 0 {
		c.RecentFinished = 50
	}
	if c.ViewSize <= 0 {
		c.ViewSize = 100000
	}
	if c.LogDrainGrace <= 0 {
		c.LogDrainGrace = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return nil
}
