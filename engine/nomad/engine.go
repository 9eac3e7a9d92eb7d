package nomad

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/render"
)

// Clock tells the time; tests pass a fake one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Cursor persists the last event-stream index the engine handled, so a
// restarted controller resumes the stream where it stopped.
type Cursor interface {
	Load() (uint64, error)
	Save(uint64) error
}

// Config configures an Engine. Sink is required; New fills the rest with
// defaults.
type Config struct {
	// Client talks to Nomad. Nil means api.DefaultConfig(), which reads
	// NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION, NOMAD_CACERT,
	// NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY and NOMAD_SKIP_VERIFY.
	Client *api.Client
	// LogClient reads the tasks' logs from the client nodes. Nomad's API
	// client makes a new HTTP transport for each call it sends to a node,
	// whose keep-alive connection then lingers for 90 s: a few log reads
	// a second and the node's agent refuses this address (429: at most
	// 100 connections per address). Nil: Client, or, when Client is nil
	// too, NewLogClient.
	LogClient *api.Client
	// Render configures how attempts become Nomad jobs (render.RenderJob):
	// runner path, datacenters, node pool, kill timeout.
	Render render.Options
	// Sink receives the attempt events, in order, from one goroutine.
	Sink engine.Sink
	// Logger; discarded if nil.
	Logger *slog.Logger
	// Clock; the wall clock if nil.
	Clock Clock
	// Cursor keeps the event index across restarts; in memory if nil.
	Cursor Cursor
	// PlacementTimeout is how long an attempt may wait for its nodes
	// (blocked eval, or allocs the clients have not begun) before
	// EventNoCapacity. Default 5m.
	PlacementTimeout time.Duration
	// PollInterval paces the timeout checks and the waits of Stop, Launch
	// and Logs when no event arrives. Default 5s.
	PollInterval time.Duration
	// ReconnectDelay is the pause before re-opening a dropped event
	// stream. Default 1s.
	ReconnectDelay time.Duration
	// Offerings lists what the enabled clouds offer (the catalog).
	Offerings func() []catalog.Offering
}

func (c *Config) setDefaults() error {
	if c.Sink == nil {
		return errors.New("nomad: Config.Sink is required")
	}
	if c.Client == nil {
		cl, err := api.NewClient(api.DefaultConfig())
		if err != nil {
			return fmt.Errorf("nomad: client: %w", err)
		}
		c.Client = cl
		if c.LogClient == nil {
			if c.LogClient, err = NewLogClient(); err != nil {
				return err
			}
		}
	}
	if c.LogClient == nil {
		c.LogClient = c.Client
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Cursor == nil {
		c.Cursor = &memCursor{}
	}
	if c.PlacementTimeout <= 0 {
		c.PlacementTimeout = 5 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.ReconnectDelay <= 0 {
		c.ReconnectDelay = time.Second
	}
	return nil
}

type memCursor struct {
	mu sync.Mutex
	n  uint64
}

func (m *memCursor) Load() (uint64, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.n, nil }
func (m *memCursor) Save(n uint64) error   { m.mu.Lock(); defer m.mu.Unlock(); m.n = n; return nil }

// Engine runs attempts as Nomad batch jobs. See the package doc.
type Engine struct {
	cfg    Config
	client *api.Client
	log    *slog.Logger

	mu       sync.Mutex
	watches  map[string]*watch // by Nomad job ID
	steps    map[string]*stepState
	jobLocks map[string]*sync.Mutex
	queue    []engine.Event
	queued   chan struct{} // signalled when queue gets events
	last     uint64        // last event index handled
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the loops of Start
	stepWG   sync.WaitGroup // step goroutines

	// base bounds the engine's own background calls; Close cancels it.
	base       context.Context
	cancelBase context.CancelFunc
}

var _ engine.Engine = (*Engine)(nil)

// New builds an Engine; call Start to watch Nomad and deliver events.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg: cfg, client: cfg.Client, log: cfg.Logger,
		watches: map[string]*watch{}, steps: map[string]*stepState{}, jobLocks: map[string]*sync.Mutex{},
		queued: make(chan struct{}, 1), base: base, cancelBase: cancel,
	}, nil
}

// Name is "nomad".
func (e *Engine) Name() string { return "nomad" }

// Offerings returns what Config.Offerings lists.
func (e *Engine) Offerings(context.Context) ([]catalog.Offering, error) {
	if e.cfg.Offerings == nil {
		return nil, nil
	}
	return slices.Clone(e.cfg.Offerings()), nil
}

// Start opens the event stream from the saved cursor and starts delivering
// events to the sink. It returns at once; Close stops both.
func (e *Engine) Start(ctx context.Context) error {
	last, err := e.cfg.Cursor.Load()
	if err != nil {
		return fmt.Errorf("nomad: load event cursor: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil {
		return errors.New("nomad: engine already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	e.last = last
	e.wg.Add(2)
	go func() { defer e.wg.Done(); e.watchLoop(ctx) }()
	go func() { defer e.wg.Done(); e.deliverLoop(ctx) }()
	return nil
}

// Close stops the watch loop and event delivery and waits for them.
func (e *Engine) Close() error {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.cancelBase()
	e.wg.Wait()
	e.stepWG.Wait()
	return nil
}

// JobID is the Nomad job of one task of a managed job (naming.JobID).
func JobID(ref engine.Ref) string { return naming.JobID(ref.JobID, ref.Task) }

func attemptOf(job *api.Job) int {
	if job == nil {
		return 0
	}
	n, err := strconv.Atoi(job.Meta[naming.MetaAttempt])
	if err != nil {
		return 0
	}
	return n
}

func (e *Engine) enqueue(evs ...engine.Event) {
	if len(evs) == 0 {
		return
	}
	e.queue = append(e.queue, evs...)
	select {
	case e.queued <- struct{}{}:
	default:
	}
}

// deliverLoop hands queued events to the sink in order, outside any lock,
// so a sink may call back into the engine.
func (e *Engine) deliverLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.queued:
		}
		e.mu.Lock()
		evs := e.queue
		e.queue = nil
		e.mu.Unlock()
		for _, ev := range evs {
			e.log.Info("attempt event", "ref", ev.Ref.String(), "kind", ev.Kind, "phase", ev.Phase,
				"exit_code", ev.ExitCode, "node", ev.Node, "reason", ev.Reason)
			e.cfg.Sink(ev)
		}
	}
}

// lockJob serialises the engine's own writes to one Nomad job (launch,
// stop, deregistrations decided by the watcher).
func (e *Engine) lockJob(jobID string) func() {
	e.mu.Lock()
	l := e.jobLocks[jobID]
	if l == nil {
		l = &sync.Mutex{}
		e.jobLocks[jobID] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func qo(ctx context.Context) *api.QueryOptions { return (&api.QueryOptions{}).WithContext(ctx) }
func wo(ctx context.Context) *api.WriteOptions { return (&api.WriteOptions{}).WithContext(ctx) }

// isNotFound reports a 404 from Nomad.
func isNotFound(err error) bool {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode() == 404
	}
	return false
}

// QueuesLaunches: a registered job waits in Nomad's own queue (a blocked
// eval) until it is placed, so the controller need not hold a launch slot.
func (e *Engine) QueuesLaunches() bool { return true }

var _ engine.Queuer = (*Engine)(nil)

// NewLogClient is a client from api.DefaultConfig() that keeps no
// connection alive (Config.LogClient says why).
func NewLogClient() (*api.Client, error) {
	conf := api.DefaultConfig()
	conf.HttpClient = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
	}}
	cl, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("nomad: log client: %w", err)
	}
	return cl, nil
}
