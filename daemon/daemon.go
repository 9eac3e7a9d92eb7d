package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/dashboard"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/server"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/metrics"
)

// Options configure Run. Home and Config are required.
type Options struct {
	// Home is the skynomad home (state.db, controller.lock, controller.pid,
	// local/, logs/).
	Home string
	// Config is the loaded configuration (infra, nomad settings).
	Config *config.Config
	// Engine is "local" or "nomad" (default: Config.Engine).
	Engine string
	// Listen is a unix socket path (or unix://path) or a TCP host:port
	// (default: <home>/controller.sock).
	Listen string
	// Token, when set, is required as a bearer token on every request over
	// TCP. A unix socket needs none: it is the owner's only (mode 0600).
	// Over TCP without one, Run generates one at the first start and keeps
	// it in the home (config.Paths.Token).
	Token string
	// NoToken serves TCP without a token: refused unless Listen is a
	// loopback address.
	NoToken bool
	// TokenCreated is told the token Run generated (once, at the first
	// start on TCP), for the caller to show.
	TokenCreated func(path, token string)
	// Logger receives the controller's log (default: discarded).
	Logger *slog.Logger
	// Clock tells the time (default time.Now).
	Clock func() time.Time
	// Version is reported by the health endpoint.
	Version string
	// RunnerCommand starts the task runner on this host (local engine;
	// default: [this executable, "driver"]).
	RunnerCommand []string
}

func (o *Options) setDefaults() error {
	if o.Home == "" {
		return errors.New("daemon: Options.Home is required")
	}
	if o.Config == nil {
		return errors.New("daemon: Options.Config is required")
	}
	if o.Engine == "" {
		o.Engine = o.Config.Engine
	}
	if o.Engine != "local" && o.Engine != "nomad" {
		return fmt.Errorf("daemon: engine %q: want local or nomad", o.Engine)
	}
	if o.Listen == "" {
		o.Listen = config.PathsOf(o.Home).Socket
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}

// Run is the controller process. It returns when ctx ends (after a
// graceful stop: no new requests, the controller loop stopped, running
// attempts left alone) or when it cannot start.
func Run(ctx context.Context, o Options) error {
	if err := o.setDefaults(); err != nil {
		return err
	}
	p := config.PathsOf(o.Home)
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	unlock, err := server.AcquireLock(p.Lock)
	if err != nil {
		if pid, ok := ReadPID(p.PID); ok && errors.Is(err, server.ErrLocked) {
			return fmt.Errorf("%w (pid %d)", err, pid)
		}
		return err
	}
	defer unlock()
	removePID, err := writePID(p.PID)
	if err != nil {
		return fmt.Errorf("daemon: pid file: %w", err)
	}
	defer removePID()
	log := o.Logger

	st, err := store.Open(ctx, p.State)
	if err != nil {
		return err
	}
	defer st.Close()
	src := &metricsSource{}
	m := metrics.New(src)
	st.SetObserver(m.ObserveStore)

	events := jobs.NewEventQueue()
	eng, err := buildEngine(ctx, o, p, st, events.Sink)
	if err != nil {
		return err
	}
	defer eng.close()
	offerings, err := eng.Offerings(ctx)
	if err != nil {
		return fmt.Errorf("daemon: %s engine offerings: %w", eng.Name(), err)
	}
	files, filesEnv, err := buildFiles(o, p, st, eng.Name(), eng.clouds)
	if err != nil {
		return err
	}
	ctrl, err := jobs.New(jobs.Config{
		Files:      files,
		FilesEnv:   filesEnv,
		StagingDir: filepath.Join(p.Home, "staging"),
		Store:      st,
		Engine:     eng.Engine,
		Events:     events,
		Planner:    planner(offerings, eng.refuse),
		Requested:  catalog.Requested,
		Clouds:     eng.clouds,
		Logger:     log,
		Observer:   m,
		Clock:      o.Clock,
		LogDir:     filepath.Join(p.Home, "logs"),
		Version:    o.Version,

		MaxLaunchRetries: o.Config.Jobs.LaunchRetries,
	})
	if err != nil {
		return err
	}
	src.ctrl.Store(ctrl)
	ln, err := listen(o.Listen)
	if err != nil {
		return err
	}
	token := ""
	if !strings.HasPrefix(ln.Addr().Network(), "unix") {
		var created bool
		token, created, err = tcpToken(p, o.Listen, o.Token, o.NoToken)
		if err != nil {
			ln.Close()
			return err
		}
		if created && o.TokenCreated != nil {
			o.TokenCreated(p.Token, token)
		}
		if token == "" {
			log.Warn("serving on loopback TCP without a token: every user of this host controls the jobs")
		}
	}
	if err := ctrl.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer ctrl.Stop()
	log.Info("controller started", "engine", eng.Name(), "listen", o.Listen, "pid", os.Getpid(), "offerings", len(offerings))
	host, _ := os.Hostname()
	err = server.New(server.Config{
		Backend: ctrl, Token: token, Logger: log, Host: host,
		Dashboard: dashboard.New(dashboard.Config{Backend: ctrl, Logger: log, Clock: o.Clock, CSRF: csrfSecret(token)}),
		Metrics:   m.Handler(),
	}).Serve(ctx, ln)
	log.Info("controller stopping", "reason", context.Cause(ctx))
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// listen opens the API listener: a unix socket (a stale one is replaced;
// we hold the lock) or TCP.
func listen(addr string) (net.Listener, error) {
	path, isUnix := strings.CutPrefix(addr, "unix://")
	if !isUnix && (strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, ".")) {
		path, isUnix = addr, true
	}
	if isUnix {
		return server.ListenUnix(path)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("daemon: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// builtEngine is an engine with what the daemon must do around it.
type builtEngine struct {
	engine.Engine
	// clouds limits planning (Nomad: the enabled infra).
	clouds []string
	// refuse says why the engine cannot start an offering (Nomad: what
	// the capacity plugin does not start), or is nil.
	refuse func(catalog.Offering) string
	close  func()
}

// planner is the optimizer over the engine's offerings.
func planner(offerings []catalog.Offering, refuse func(catalog.Offering) string) *catalog.Catalog {
	cat := catalog.New(offerings)
	if refuse != nil {
		cat = cat.Refusing(refuse)
	}
	return cat
}

// metricsSource answers the metrics read at scrape time, from the
// controller once it exists.
type metricsSource struct {
	ctrl atomic.Pointer[jobs.Controller]
}

var errNoController = errors.New("the controller is not built yet")

func (s *metricsSource) JobCounts(ctx context.Context) (map[api.Status]int, error) {
	if c := s.ctrl.Load(); c != nil {
		return c.JobCounts(ctx)
	}
	return nil, errNoController
}

func (s *metricsSource) LoopLatency(ctx context.Context) (time.Duration, error) {
	if c := s.ctrl.Load(); c != nil {
		return c.LoopLatency(ctx)
	}
	return 0, errNoController
}

// csrfSecret is what the dashboard's forms carry: derived from the token,
// so that every controller of one deployment agrees; random without one.
func csrfSecret(token string) string {
	if token == "" {
		b := make([]byte, 32)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("skynomad dashboard forms"))
	return hex.EncodeToString(mac.Sum(nil))
}
