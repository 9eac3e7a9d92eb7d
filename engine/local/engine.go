package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
)

// Defaults.
const (
	DefaultGrace = 10 * time.Second
	// DefaultPollInterval is how often a watcher looks at its attempt when
	// nothing told it to: phase changes and runner exits wake it at once.
	DefaultPollInterval = time.Second
	// followPoll is the most a followed log waits for new output.
	followPoll = 200 * time.Millisecond
)

// Config configures the local engine.
type Config struct {
	// Dir is the state root (e.g. ~/.skynomad/local); attempts live under
	// <Dir>/attempts/<job>-<task>-<attempt>/.
	Dir string
	// RunnerCommand starts a task runner; the engine appends "--serve" and
	// assigns it nodes (driver.Serve). Default: RunnerBinary beside this executable, else
	// [os.Executable(), "driver"].
	RunnerCommand []string
	// Sink receives the attempts' events.
	Sink   engine.Sink
	Logger *slog.Logger
	Clock  func() time.Time
	// Grace is the time between SIGTERM and SIGKILL when stopping.
	Grace time.Duration
	// HostCPUs and HostMemoryGB describe this host (default: measured).
	HostCPUs     int
	HostMemoryGB float64
	// PollInterval is how often a watcher looks at its attempt without
	// being woken (runners re-attached after a restart that vanish, kill
	// deadlines); phases and exits are reported as they happen.
	PollInterval time.Duration
	// Home is this host's home directory, where mounts to ~/... go
	// (default: the user's).
	Home string
	// KeepAttempts is how many ended attempts keep their sandboxes; older
	// ones keep only their logs (default DefaultKeepAttempts; KeepNone keeps
	// none).
	KeepAttempts int
}

// RunnerBinary is the runner the local engine prefers: `skynomad driver`
// alone, which starts several times faster than the whole skynomad.
const RunnerBinary = "skynomad-runner"

// defaultRunner is the runner beside exe, or exe's own driver command.
func defaultRunner(exe string) []string {
	r := filepath.Join(filepath.Dir(exe), RunnerBinary)
	if fi, err := os.Stat(r); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return []string{r}
	}
	return []string{exe, "driver"}
}

// withDefaults validates the config and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("local engine: Config.Dir is required")
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("local engine: state dir: %w", err)
	}
	c.Dir = dir
	if len(c.RunnerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("local engine: find the runner binary: %w", err)
		}
		c.RunnerCommand = defaultRunner(exe)
	}
	if c.Sink == nil {
		c.Sink = func(engine.Event) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.KeepAttempts == 0 {
		c.KeepAttempts = DefaultKeepAttempts
	}
	if c.Home == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("local engine: home directory: %w", err)
		}
		c.Home = home
	}
	if c.HostCPUs <= 0 || c.HostMemoryGB <= 0 {
		host, err := catalog.Local()
		if err != nil {
			return c, fmt.Errorf("local engine: %w", err)
		}
		if c.HostCPUs <= 0 {
			c.HostCPUs = int(host.VCPUs)
		}
		if c.HostMemoryGB <= 0 {
			c.HostMemoryGB = host.MemoryGB
		}
	}
	return c, nil
}

// Engine runs attempts as process groups on this host.
type Engine struct {
	cfg Config
	// ctx ends with Close; watchers and preemption timers follow it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	attempts map[engine.Ref]*attempt // attempts not yet ended

	pruning      sync.Mutex // held while a prune runs
	prunePending atomic.Bool
	scanned      bool // under pruning: the attempts dir was read once
	endedMu      sync.Mutex
	ended        []endedAttempt // unpruned ended attempts, oldest first
	notify       *notifier      // nil: watchers poll
	pool         *runnerPool
}

var (
	_ engine.Engine    = (*Engine)(nil)
	_ engine.Preempter = (*Engine)(nil)
)

// New returns a local engine. Attempts already under cfg.Dir are picked up
// by Resume.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "attempts"), 0o755); err != nil {
		return nil, fmt.Errorf("local engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{cfg: cfg, ctx: ctx, cancel: cancel, attempts: map[engine.Ref]*attempt{}, notify: newNotifier(),
		pool: newRunnerPool(cfg.RunnerCommand, runnersLog(cfg.Dir), 4*runtime.NumCPU())}
	e.prune()
	return e, nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return catalog.LocalCloud }

// Offerings implements engine.Engine: this host, at no cost.
func (e *Engine) Offerings(context.Context) ([]catalog.Offering, error) {
	return []catalog.Offering{e.offering()}, nil
}

func (e *Engine) offering() catalog.Offering {
	return catalog.Offering{
		Cloud:        catalog.LocalCloud,
		Region:       catalog.LocalCloud,
		InstanceType: catalog.LocalCloud,
		VCPUs:        float64(e.cfg.HostCPUs),
		MemoryGB:     e.cfg.HostMemoryGB,
	}
}

// Close stops watching attempts; their processes keep running and a new
// engine on the same Dir re-attaches with Resume.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	e.notify.close()
	e.pool.close()
	return nil
}

// emit sends an event stamped with the engine's clock.
func (e *Engine) emit(ev engine.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.cfg.Clock()
	}
	if ev.Node == "" {
		ev.Node = nodeName
	}
	e.cfg.Sink(ev)
}

// go runs f as a tracked goroutine (Close waits for it).
func (e *Engine) goTracked(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}
