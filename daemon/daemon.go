package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/server"
	"github.com/skynomad/skynomad/jobs/store"
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
	Token string
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
		Clock:      o.Clock,
		LogDir:     filepath.Join(p.Home, "logs"),
		Version:    o.Version,

		MaxLaunchRetries: o.Config.Jobs.LaunchRetries,
	})
	if err != nil {
		return err
	}
	ln, err := listen(o.Listen)
	if err != nil {
		return err
	}
	if err := ctrl.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer ctrl.Stop()
	log.Info("controller started", "engine", eng.Name(), "listen", o.Listen, "pid", os.Getpid(), "offerings", len(offerings))
	token := o.Token
	if strings.HasPrefix(ln.Addr().Network(), "unix") {
		token = ""
	} else if token == "" {
		log.Warn("serving on TCP without a token: anyone who reaches the port controls the jobs")
	}
	host, _ := os.Hostname()
	err = server.New(server.Config{Backend: ctrl, Token: token, Logger: log, Host: host}).Serve(ctx, ln)
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
