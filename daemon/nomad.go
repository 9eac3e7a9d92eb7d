package daemon

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/jobs/store"
)

// cursorKey is where the Nomad engine's event index lives in the store.
const cursorKey = "nomad.event_index"

// buildNomad makes the Nomad engine: the cluster from the NOMAD_*
// variables, attempts rendered with the config's nomad settings, the event
// index kept in the store, and the catalog's offerings of the enabled
// infra (infra `local` adds this host's shape, placed on any node).
func buildNomad(ctx context.Context, o Options, st *store.Store, sink engine.Sink) (*builtEngine, error) {
	client, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("daemon: nomad client: %w", err)
	}
	logClient, err := nomad.NewLogClient()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	offerings, err := nomadOfferings(o.Config.Infra)
	if err != nil {
		return nil, err
	}
	eng, err := nomad.New(nomad.Config{
		Client:    client,
		LogClient: logClient,
		Render: render.Options{
			TaskDriver:  o.Config.Nomad.TaskDriver,
			RunnerPath:  o.Config.Nomad.RunnerPath,
			Datacenters: o.Config.Nomad.Datacenters,
			NodePool:    o.Config.Nomad.NodePool,
		},
		Sink:             sink,
		Logger:           o.Logger.With("engine", "nomad"),
		Clock:            clock(o.Clock),
		Cursor:           storeCursor{ctx: ctx, st: st},
		PlacementTimeout: time.Duration(o.Config.Nomad.PlacementTimeout),
		Offerings:        func() []catalog.Offering { return offerings },
	})
	if err != nil {
		return nil, err
	}
	if err := eng.Start(ctx); err != nil {
		return nil, fmt.Errorf("daemon: nomad engine: %w", err)
	}
	return &builtEngine{Engine: eng, clouds: o.Config.Infra, close: func() { eng.Close() }}, nil
}

// nomadOfferings lists the catalog's offerings of the enabled clouds (all
// of them when infra is empty), plus this host's shape for `local`.
func nomadOfferings(infra []string) ([]catalog.Offering, error) {
	var out []catalog.Offering
	for _, o := range catalog.Default().Offerings() {
		if len(infra) == 0 || slices.Contains(infra, o.Cloud) {
			out = append(out, o)
		}
	}
	if slices.Contains(infra, catalog.LocalCloud) {
		local, err := catalog.Local()
		if err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		out = append(out, local)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("daemon: no offering in the enabled infra %v", infra)
	}
	return out, nil
}

// storeCursor keeps the Nomad event index in the store's key-value table.
type storeCursor struct {
	ctx context.Context
	st  *store.Store
}

func (c storeCursor) Load() (uint64, error) {
	v, ok, err := c.st.GetKV(context.WithoutCancel(c.ctx), cursorKey)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseUint(string(v), 10, 64)
}

func (c storeCursor) Save(n uint64) error {
	return c.st.PutKV(context.WithoutCancel(c.ctx), cursorKey, []byte(strconv.FormatUint(n, 10)))
}

// clock adapts a func clock to the Nomad engine's Clock.
type clock func() time.Time

func (c clock) Now() time.Time { return c() }
