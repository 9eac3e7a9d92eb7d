package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/config"
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
	// Plan on the home's catalog as it is now; a stale one is refreshed
	// in the background for the next start.
	cache := catalog.Cache{Dir: config.PathsOf(o.Home).Catalogs, BaseURL: o.Config.Catalog.URL, Now: o.Clock}
	waitRefresh := refreshCatalog(ctx, cache, o.Logger)
	offerings, err := nomadOfferings(cache.Catalog(), o.Config.Infra)
	if err != nil {
		waitRefresh()
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
			VolumeType:  o.Config.Nomad.VolumeType,
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
		waitRefresh()
		return nil, fmt.Errorf("daemon: nomad engine: %w", err)
	}
	return &builtEngine{Engine: eng, clouds: o.Config.Infra, refuse: policy.Unstartable,
		close: func() { eng.Close(); waitRefresh() }}, nil
}

// catalogRefreshTimeout bounds the refresh of a stale catalog at start.
const catalogRefreshTimeout = 30 * time.Second

// refreshCatalog refreshes the cache's stale copies in the background,
// logging what it did; the returned func waits for it.
func refreshCatalog(ctx context.Context, cache catalog.Cache, log *slog.Logger) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(ctx, catalogRefreshTimeout)
		defer cancel()
		for _, r := range cache.RefreshStale(ctx) {
			if r.Err != nil {
				log.Warn("catalog refresh failed", "cloud", r.Cloud, "err", r.Err, "using", r.Using.String())
				continue
			}
			log.Info("catalog refreshed; used from the next start", "cloud", r.Cloud, "offerings", r.Offerings, "path", r.Using.Path)
		}
	}()
	return func() { <-done }
}

// nomadOfferings lists the catalog's offerings of the enabled clouds (all
// of them when infra is empty), plus this host's shape for `local`.
func nomadOfferings(cat *catalog.Catalog, infra []string) ([]catalog.Offering, error) {
	var out []catalog.Offering
	for _, o := range cat.Offerings() {
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
