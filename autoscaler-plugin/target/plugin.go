package target

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/plugins/base"
	sdktarget "github.com/hashicorp/nomad-autoscaler/plugins/target"
	"github.com/hashicorp/nomad-autoscaler/sdk"
	nomadhelper "github.com/hashicorp/nomad-autoscaler/sdk/helper/nomad"
	"github.com/hashicorp/nomad-autoscaler/sdk/helper/scaleutils"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// Name is the plugin's name: the agent's `driver` must be the same.
const Name = "skynomad-target"

var _ sdktarget.Target = (*Plugin)(nil)

// NewProvider builds the provider of an offering's cloud from the merged
// config (Providers in providers.go is the real one).
type NewProvider func(ctx context.Context, o cloud.Offering, cfg map[string]string) (cloud.Provider, error)

// Plugin is skynomad-target.
type Plugin struct {
	log          hclog.Logger
	newProvider  NewProvider
	catalog      *catalog.Catalog // parsed once: Status and Scale run every evaluation
	now          func() time.Time
	config       map[string]string
	nomad        *api.Client
	clusterUtils *scaleutils.ClusterScaleUtils

	mu        sync.Mutex
	offerings map[string]*offering // by node class
}

// offering is the plugin's state for one policy's offering.
type offering struct {
	provider cloud.Provider
	// inFlight counts Scale calls launching or terminating right now.
	inFlight int
}

// New returns the plugin; newProvider builds each offering's provider.
func New(log hclog.Logger, newProvider NewProvider) *Plugin {
	return &Plugin{log: log, newProvider: newProvider, catalog: catalog.Default(), now: time.Now,
		offerings: map[string]*offering{}}
}

// PluginInfo implements base.Base.
func (p *Plugin) PluginInfo() (*base.PluginInfo, error) {
	return &base.PluginInfo{Name: Name, PluginType: sdk.PluginTypeTarget}, nil
}

// SetConfig implements base.Base: the plugin block's config, plus the
// agent's nomad_* keys.
func (p *Plugin) SetConfig(config map[string]string) error {
	p.config = config
	nomadCfg := nomadhelper.ConfigFromNamespacedMap(config)
	client, err := api.NewClient(nomadCfg)
	if err != nil {
		return fmt.Errorf("nomad client: %w", err)
	}
	utils, err := scaleutils.NewClusterScaleUtils(nomadCfg, p.log)
	if err != nil {
		return err
	}
	utils.ClusterNodeIDLookupFunc = instanceOfNode
	p.nomad, p.clusterUtils = client, utils
	return nil
}

// instanceOfNode maps a Nomad node to its cloud instance: the meta the
// bootstrap sets, else the instance ID Nomad fingerprints on EC2.
func instanceOfNode(n *api.Node) (string, error) {
	if id := n.Meta[naming.NodeMetaInstanceID]; id != "" {
		return id, nil
	}
	if id := n.Attributes["unique.platform.aws.instance-id"]; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("node %s has no meta %s", n.ID, naming.NodeMetaInstanceID)
}

// state returns the offering of a policy's config, building its provider
// the first time.
func (p *Plugin) state(ctx context.Context, pol *policy) (*offering, error) {
	class := pol.class
	p.mu.Lock()
	defer p.mu.Unlock()
	if o := p.offerings[class]; o != nil {
		return o, nil
	}
	prov, err := p.newProvider(ctx, pol.offering, pol.raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", class, err)
	}
	o := &offering{provider: prov}
	p.offerings[class] = o
	return o, nil
}

// fleet is what a policy's offering has right now.
type fleet struct {
	live     []cloud.Instance // pending or running, not terminating
	joined   map[string]bool  // instance ID → has a Nomad node
	booting  []cloud.Instance // live, not joined yet
	changing bool             // instances pending or terminating
}

func (p *Plugin) look(ctx context.Context, o *offering, class string) (*fleet, error) {
	insts, err := o.provider.List(ctx, class)
	if err != nil {
		return nil, fmt.Errorf("list instances of %s: %w", class, err)
	}
	nodes, _, err := p.nomad.Nodes().List((&api.QueryOptions{
		Filter: fmt.Sprintf("NodeClass == %q", class),
	}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list Nomad nodes of %s: %w", class, err)
	}
	f := &fleet{joined: map[string]bool{}}
	byInstance := map[string]bool{}
	for _, n := range nodes {
		if n.Status == api.NodeStatusDown {
			continue
		}
		node, _, err := p.nomad.Nodes().Info(n.ID, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read Nomad node %s: %w", n.ID, err)
		}
		if id, err := instanceOfNode(node); err == nil {
			byInstance[id] = true
		}
	}
	for _, in := range insts {
		switch in.State {
		case cloud.Terminating:
			f.changing = true
			continue
		case cloud.Pending:
			f.changing = true
		}
		f.live = append(f.live, in)
		if byInstance[in.ID] {
			f.joined[in.ID] = true
		} else {
			f.booting = append(f.booting, in)
		}
	}
	return f, nil
}

// Status implements target.Target. Count is every live instance, joined
// or still booting; Ready is false while instances start or stop, a Scale
// is in flight, or a node of the class is initializing or draining.
// Instances that have not joined within the boot timeout are terminated.
func (p *Plugin) Status(config map[string]string) (*sdk.TargetStatus, error) {
	ctx := context.Background()
	pol, err := readPolicy(merged(p.config, config), p.catalog)
	if err != nil {
		return nil, err
	}
	o, err := p.state(ctx, pol)
	if err != nil {
		return nil, err
	}
	class := pol.class
	f, err := p.look(ctx, o, class)
	if err != nil {
		return nil, err
	}
	var broken []string
	for _, in := range f.booting {
		if !in.Created.IsZero() && p.now().Sub(in.Created) > pol.bootTimeout {
			broken = append(broken, in.ID)
		}
	}
	if len(broken) > 0 {
		p.log.Warn("terminating instances that never joined Nomad", "node_class", class, "instances", broken, "boot_timeout", pol.bootTimeout)
		if err := o.provider.Terminate(ctx, broken); err != nil {
			p.log.Error("terminating instances that never joined", "node_class", class, "error", err)
		}
		f.changing = true
	}
	poolReady, err := p.clusterUtils.IsPoolReady(pol.raw)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	busy := o.inFlight > 0
	p.mu.Unlock()
	return &sdk.TargetStatus{
		Ready: poolReady && !busy && !f.changing,
		Count: int64(len(f.live)),
		Meta: map[string]string{
			"booting": fmt.Sprint(len(f.booting)),
			"joined":  fmt.Sprint(len(f.joined)),
		},
	}, nil
}

// Scale implements target.Target: launch the missing instances, or drain
// and terminate the extra ones (instances still booting go first).
func (p *Plugin) Scale(action sdk.ScalingAction, config map[string]string) error {
	if action.Count == sdk.StrategyActionMetaValueDryRunCount {
		return nil
	}
	ctx := context.Background()
	pol, err := readPolicy(merged(p.config, config), p.catalog)
	if err != nil {
		return err
	}
	o, err := p.state(ctx, pol)
	if err != nil {
		return err
	}
	p.mu.Lock()
	o.inFlight++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		o.inFlight--
		p.mu.Unlock()
	}()

	class := pol.class
	f, err := p.look(ctx, o, class)
	if err != nil {
		return err
	}
	have := int64(len(f.live))
	switch {
	case action.Count > have:
		return p.scaleOut(ctx, o, pol, int(action.Count-have))
	case action.Count < have:
		return p.scaleIn(ctx, o, pol, f, int(have-action.Count))
	}
	return sdk.NewTargetScalingNoOpError("%s has %d instances already", class, have)
}

func (p *Plugin) scaleOut(ctx context.Context, o *offering, pol *policy, n int) error {
	class := pol.class
	waiting, err := waitingJobs(ctx, p.nomad.Jobs(), pol)
	if err != nil {
		// The instances matter more than their labels.
		p.log.Warn("cannot read the jobs waiting for nodes; launching without their labels", "node_class", class, "error", err)
	}
	var launched []cloud.Instance
	for _, req := range launchPlan(pol, n, waiting) {
		var got []cloud.Instance
		got, err = o.provider.Launch(ctx, req)
		launched = append(launched, got...)
		if err != nil {
			break
		}
	}
	ids := make([]string, len(launched))
	for i, in := range launched {
		ids[i] = in.ID
	}
	if len(launched) > 0 {
		p.log.Info("launched instances", "node_class", class, "count", len(launched), "instances", ids)
	}
	if ce := cloud.AsCapacity(err); ce != nil {
		p.recordRefusal(ctx, class, ce)
		return fmt.Errorf("%s: launched %d of %d: %w", class, len(launched), n, err)
	}
	if err != nil {
		return fmt.Errorf("%s: launched %d of %d: %w", class, len(launched), n, err)
	}
	p.clearRefusal(ctx, class)
	return nil
}

func (p *Plugin) scaleIn(ctx context.Context, o *offering, pol *policy, f *fleet, n int) error {
	class := pol.class
	// Instances that have not joined carry no work: they go first, newest
	// first (the oldest is closest to joining).
	booting := append([]cloud.Instance(nil), f.booting...)
	sort.Slice(booting, func(i, j int) bool { return booting[i].Created.After(booting[j].Created) })
	var early []string
	for _, in := range booting {
		if len(early) == n {
			break
		}
		early = append(early, in.ID)
	}
	if len(early) > 0 {
		if err := o.provider.Terminate(ctx, early); err != nil {
			return fmt.Errorf("%s: terminate booting instances: %w", class, err)
		}
		p.log.Info("terminated instances that had not joined", "node_class", class, "instances", early)
		n -= len(early)
	}
	if n == 0 {
		return nil
	}
	var joined []string
	for id := range f.joined {
		joined = append(joined, id)
	}
	if len(joined) == 0 {
		return nil
	}
	ids, err := p.clusterUtils.RunPreScaleInTasksWithRemoteCheck(ctx, pol.raw, joined, n)
	if err != nil {
		return fmt.Errorf("%s: drain nodes: %w", class, err)
	}
	remote := make([]string, len(ids))
	for i, id := range ids {
		remote[i] = id.RemoteResourceID
	}
	if err := o.provider.Terminate(ctx, remote); err != nil {
		// Make the drained nodes eligible again: they still run.
		if ferr := p.clusterUtils.RunPostScaleInTasksOnFailure(ids); ferr != nil {
			p.log.Error("making nodes eligible again", "node_class", class, "error", ferr)
		}
		return fmt.Errorf("%s: terminate instances: %w", class, err)
	}
	p.log.Info("drained and terminated instances", "node_class", class, "instances", remote)
	return p.clusterUtils.RunPostScaleInTasks(ctx, pol.raw, ids)
}

// recordRefusal writes the cloud's refusal where the controller's Nomad
// engine reads it.
func (p *Plugin) recordRefusal(ctx context.Context, class string, ce *cloud.CapacityError) {
	v := &api.Variable{Path: naming.CapacityVariable(class), Items: api.VariableItems{
		naming.CapacityCloud:   ce.Cloud,
		naming.CapacityKind:    string(ce.Kind),
		naming.CapacityCode:    ce.Code,
		naming.CapacityZone:    ce.Zone,
		naming.CapacityMessage: ce.Message,
		naming.CapacityTime:    p.now().UTC().Format(time.RFC3339Nano),
	}}
	wo := (&api.WriteOptions{Namespace: naming.CapacityNamespace}).WithContext(ctx)
	if _, _, err := p.nomad.Variables().Create(v, wo); err != nil {
		p.log.Error("recording a capacity refusal", "node_class", class, "error", err)
		return
	}
	p.log.Warn("the cloud refused capacity", "node_class", class, "code", ce.Code, "zone", ce.Zone, "message", ce.Message)
}

// clearRefusal removes the record once the offering has capacity again.
func (p *Plugin) clearRefusal(ctx context.Context, class string) {
	wo := (&api.WriteOptions{Namespace: naming.CapacityNamespace}).WithContext(ctx)
	_, err := p.nomad.Variables().Delete(naming.CapacityVariable(class), wo)
	if err != nil && !errors.Is(err, api.ErrVariablePathNotFound) && !isNotFound(err) {
		p.log.Warn("clearing a capacity refusal", "node_class", class, "error", err)
	}
}

func isNotFound(err error) bool {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode() == 404
	}
	return false
}
