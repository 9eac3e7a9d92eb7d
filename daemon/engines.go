package daemon

import (
	"context"
	"fmt"

	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/local"
	"github.com/skynomad/skynomad/jobs/store"
)

// buildEngine makes the engine Options.Engine names, its events going to
// sink.
func buildEngine(ctx context.Context, o Options, p config.Paths, st *store.Store, sink engine.Sink) (*builtEngine, error) {
	switch o.Engine {
	case "local":
		return buildLocal(o, p, sink)
	case "nomad":
		return buildNomad(ctx, o, st, sink)
	}
	return nil, fmt.Errorf("daemon: unknown engine %q", o.Engine)
}

func buildLocal(o Options, p config.Paths, sink engine.Sink) (*builtEngine, error) {
	eng, err := local.New(local.Config{
		Dir:           p.Local,
		RunnerCommand: o.RunnerCommand,
		Sink:          sink,
		Logger:        o.Logger.With("engine", "local"),
		Clock:         o.Clock,
		KeepAttempts:  keepAttempts(o.Config.Local.KeepAttempts),
	})
	if err != nil {
		return nil, err
	}
	return &builtEngine{Engine: eng, close: func() { eng.Close() }}, nil
}

// keepAttempts maps local.keep_attempts to the engine's setting (0 is
// "keep none" in the file, the default in the engine's config; unset is
// the default).
func keepAttempts(n *int) int {
	switch {
	case n == nil:
		return 0
	case *n == 0:
		return local.KeepNone
	}
	return *n
}
