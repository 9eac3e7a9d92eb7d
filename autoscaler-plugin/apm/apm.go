// Package apm is skynomad-apm, the Nomad Autoscaler (v0.5.0) APM plugin
// that reports the controller's demand: the query "demand/<node class>"
// answers how many nodes that offering's class needs now (queued, starting
// and running attempts, times their num_nodes), read from the
// controller's GET /v1/demand. A class with no demand answers 0, so the
// pass-through strategy scales it to zero after the cooldown.
//
// Config (the agent's apm block): controller_address (http://host:port or
// unix:///path), controller_token, and cache (how long one answer serves
// every policy's query; default 1s).
package apm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	sdkapm "github.com/hashicorp/nomad-autoscaler/plugins/apm"
	"github.com/hashicorp/nomad-autoscaler/plugins/base"
	"github.com/hashicorp/nomad-autoscaler/sdk"

	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
)

// Name is the plugin's name: the agent's `driver` must be the same.
const Name = "skynomad-apm"

// Config keys.
const (
	KeyControllerAddress = "controller_address"
	KeyControllerToken   = "controller_token"
	KeyCache             = "cache"
)

// QueryPrefix starts every query the plugin answers.
const QueryPrefix = policy.QueryPrefix

var _ sdkapm.APM = (*Plugin)(nil)

// Demander is the controller, as the plugin needs it.
type Demander interface {
	Demand(ctx context.Context) (api.Demand, error)
}

// Plugin is skynomad-apm.
type Plugin struct {
	log hclog.Logger
	now func() time.Time

	mu     sync.Mutex
	ctl    Demander
	cache  time.Duration
	last   api.Demand
	lastAt time.Time
}

// New returns the plugin; SetConfig connects it to the controller.
func New(log hclog.Logger) *Plugin { return &Plugin{log: log, now: time.Now} }

// PluginInfo implements base.Base.
func (p *Plugin) PluginInfo() (*base.PluginInfo, error) {
	return &base.PluginInfo{Name: Name, PluginType: sdk.PluginTypeAPM}, nil
}

// SetConfig implements base.Base.
func (p *Plugin) SetConfig(config map[string]string) error {
	addr := config[KeyControllerAddress]
	if addr == "" {
		return fmt.Errorf("%s: required: the controller's API (http://host:7780 or unix:///path)", KeyControllerAddress)
	}
	cache := time.Second
	if v := config[KeyCache]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%s: %q is not a duration (e.g. 1s)", KeyCache, v)
		}
		cache = d
	}
	ctl, err := client.New(addr, config[KeyControllerToken])
	if err != nil {
		return fmt.Errorf("%s: %w", KeyControllerAddress, err)
	}
	p.Use(ctl, cache)
	return nil
}

// Use sets the controller the plugin asks (SetConfig's, or a test's).
func (p *Plugin) Use(ctl Demander, cache time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctl, p.cache, p.lastAt = ctl, cache, time.Time{}
}

// Query implements apm.APM: one point, now, with the class's node demand.
func (p *Plugin) Query(q string, _ sdk.TimeRange) (sdk.TimestampedMetrics, error) {
	class, ok := strings.CutPrefix(q, QueryPrefix)
	if !ok || class == "" {
		return nil, fmt.Errorf("query %q: want %s<node class>", q, QueryPrefix)
	}
	d, err := p.demand()
	if err != nil {
		return nil, err
	}
	return sdk.TimestampedMetrics{{Timestamp: p.now(), Value: float64(d.Nodes[class])}}, nil
}

// QueryMultiple implements apm.APM.
func (p *Plugin) QueryMultiple(q string, r sdk.TimeRange) ([]sdk.TimestampedMetrics, error) {
	m, err := p.Query(q, r)
	if err != nil {
		return nil, err
	}
	return []sdk.TimestampedMetrics{m}, nil
}

// demand asks the controller, at most once per cache period.
func (p *Plugin) demand() (api.Demand, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctl == nil {
		return api.Demand{}, fmt.Errorf("not configured: %s is required", KeyControllerAddress)
	}
	if !p.lastAt.IsZero() && p.now().Sub(p.lastAt) < p.cache {
		return p.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := p.ctl.Demand(ctx)
	if err != nil {
		return api.Demand{}, fmt.Errorf("controller demand: %w", err)
	}
	p.last, p.lastAt = d, p.now()
	return d, nil
}
