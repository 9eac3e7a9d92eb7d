package gcp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

// cloudPlatformScope is the scope instances' service account gets.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// maxInFlight bounds the inserts one Launch has under way at once.
const maxInFlight = 8

// Provider launches, lists and terminates one project's GCE instances in
// one region.
type Provider struct {
	cfg       Config
	region    string
	instances *compute.InstancesClient
	regions   *compute.RegionsClient
	now       func() time.Time
}

var _ cloud.Provider = (*Provider)(nil)

// New returns a Provider for region in cfg.Project. cfg's empty fields get
// their defaults; New checks cfg and makes the API clients, which find
// their credentials (cfg.CredentialsFile, else Application Default
// Credentials) unless cfg.NoAuth. Close releases them.
func New(ctx context.Context, region string, cfg Config) (*Provider, error) {
	if region == "" {
		return nil, errors.New("gcp: region is required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if r := subnetworkRegion(cfg.Subnetwork); r != "" && r != region {
		return nil, fmt.Errorf("gcp: %s = %q is in region %s, not %s", KeySubnetwork, cfg.Subnetwork, r, region)
	}
	opts, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	instances, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp: instances client: %w", err)
	}
	regions, err := compute.NewRegionsRESTClient(ctx, opts...)
	if err != nil {
		instances.Close()
		return nil, fmt.Errorf("gcp: regions client: %w", err)
	}
	return &Provider{cfg: cfg, region: region, instances: instances, regions: regions, now: time.Now}, nil
}

func clientOptions(cfg Config) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	switch {
	case cfg.NoAuth:
		opts = append(opts, option.WithoutAuthentication())
	case cfg.CredentialsFile != "":
		typ, err := credentialsType(cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentialsFile(typ, cfg.CredentialsFile))
	}
	return opts, nil
}

// credentialsType reads the "type" of a credentials JSON file, which the
// client needs told.
func credentialsType(file string) (option.CredentialsType, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("gcp: %s: %w", KeyCredentialsFile, err)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return "", fmt.Errorf("gcp: %s = %q: not a credentials JSON file: %w", KeyCredentialsFile, file, err)
	}
	switch t := option.CredentialsType(head.Type); t {
	case option.ServiceAccount, option.AuthorizedUser, option.ExternalAccount, option.ImpersonatedServiceAccount:
		return t, nil
	}
	return "", fmt.Errorf("gcp: %s = %q: credentials type %q: want service_account, authorized_user, external_account or impersonated_service_account", KeyCredentialsFile, file, head.Type)
}

// Close releases the API clients.
func (p *Provider) Close() error {
	return errors.Join(p.instances.Close(), p.regions.Close())
}

// Launch starts up to req.Count instances of req.Offering, round-robin over
// req.Zones (the region's zones when empty), each one Instances.Insert
// waited on. A zone that refuses capacity is not tried again in this call:
// the instances it refused go to the zones still open. A quota refusal
// ends the launch (the quota is the region's); so does any other error.
// It returns what launched, in request order; when that is short, the
// error is the refusals (most telling first: quota, stockout,
// unsupported; *cloud.CapacityError through errors.As) or the error that
// stopped it, wrapped.
func (p *Provider) Launch(ctx context.Context, req cloud.LaunchRequest) ([]cloud.Instance, error) {
	if req.Count <= 0 {
		return nil, nil
	}
	if req.Offering.InstanceType == "" {
		return nil, errors.New("gcp: launch: the offering has no machine type")
	}
	if req.Offering.Region != "" && req.Offering.Region != p.region {
		return nil, fmt.Errorf("gcp: launch: offering is in region %s, this provider in %s", req.Offering.Region, p.region)
	}
	zones := req.Zones
	if len(zones) == 0 {
		var err error
		if zones, err = p.regionZones(ctx); err != nil {
			return nil, err
		}
	}
	for _, z := range zones {
		if !strings.HasPrefix(z, p.region+"-") {
			return nil, fmt.Errorf("gcp: launch: zone %q is not in region %s", z, p.region)
		}
	}

	launched := make([]*cloud.Instance, req.Count)
	pending := make([]int, req.Count)
	for i := range pending {
		pending[i] = i
	}
	open := slices.Clone(zones)
	var refusals []*cloud.CapacityError
	var stop error
	for len(pending) > 0 && len(open) > 0 && stop == nil {
		results := p.insertRound(ctx, req, pending, open)
		var next []int
		refusedNow := map[string]bool{}
		for k, idx := range pending {
			r := results[k]
			if r.err == nil {
				launched[idx] = &r.inst
				continue
			}
			next = append(next, idx)
			ce := Classify(r.err, r.zone)
			if ce == nil {
				if stop == nil {
					stop = fmt.Errorf("gcp: launch %s in %s: %w", req.Class(), r.zone, r.err)
				}
				continue
			}
			if !refusedNow[r.zone] {
				refusedNow[r.zone] = true
				refusals = append(refusals, ce)
			}
			if ce.Kind == cloud.Quota && stop == nil {
				stop = ce
			}
		}
		open = slices.DeleteFunc(open, func(z string) bool { return refusedNow[z] })
		pending = next
	}

	var out []cloud.Instance
	for _, inst := range launched {
		if inst != nil {
			out = append(out, *inst)
		}
	}
	if len(pending) == 0 {
		return out, nil
	}
	var ce *cloud.CapacityError
	if stop != nil && !errors.As(stop, &ce) {
		return out, stop
	}
	slices.SortStableFunc(refusals, func(a, b *cloud.CapacityError) int {
		return cmp.Compare(kindRank(a.Kind), kindRank(b.Kind))
	})
	errs := make([]error, len(refusals))
	for i, r := range refusals {
		errs[i] = r
	}
	return out, fmt.Errorf("gcp: launched %d of %d %s: %w", len(out), req.Count, req.Class(), errors.Join(errs...))
}

// kindRank orders refusals by what they say of the offering: a quota
// holds for the region, a stockout for now, unsupported for one zone.
func kindRank(k cloud.CapacityKind) int {
	switch k {
	case cloud.Quota:
		return 0
	case cloud.Stockout:
		return 1
	case cloud.Price:
		return 2
	}
	return 3
}

type insertResult struct {
	zone string
	inst cloud.Instance
	err  error
}

// insertRound inserts the pending instances at once (at most maxInFlight
// under way), the k-th of them in open[k % len(open)]: in the first round
// instance i goes to zone i mod len(zones), after it the instances refused
// spread over the zones still open.
func (p *Provider) insertRound(ctx context.Context, req cloud.LaunchRequest, pending []int, open []string) []insertResult {
	results := make([]insertResult, len(pending))
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for k := range pending {
		zone := open[k%len(open)]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			inst, err := p.insert(ctx, req, zone)
			results[k] = insertResult{zone: zone, inst: inst, err: err}
		})
	}
	wg.Wait()
	return results
}

// insert launches one instance in zone and waits for its operation.
func (p *Provider) insert(ctx context.Context, req cloud.LaunchRequest, zone string) (cloud.Instance, error) {
	name := instanceName(req.Offering)
	op, err := p.instances.Insert(ctx, &computepb.InsertInstanceRequest{
		Project:          p.cfg.Project,
		Zone:             zone,
		InstanceResource: p.instanceResource(req, zone, name),
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	waitErr := op.Wait(ctx)
	// Wait fails for an operation GCE ended with an HTTP error status, with
	// the codes flattened into text: read them from the operation itself.
	if err := opError(op.Proto(), zone); err != nil {
		return cloud.Instance{}, err
	}
	if waitErr != nil {
		return cloud.Instance{}, fmt.Errorf("waiting for insert of %s: %w", name, waitErr)
	}
	created := p.now()
	if t, err := time.Parse(time.RFC3339, op.Proto().GetInsertTime()); err == nil {
		created = t
	}
	return cloud.Instance{ID: zone + "/" + name, Zone: zone, State: cloud.Pending, Created: created}, nil
}

// opError returns the errors an operation ended with, or nil.
func opError(op *computepb.Operation, zone string) error {
	errs := op.GetError().GetErrors()
	if len(errs) == 0 {
		return nil
	}
	oe := &OperationError{Operation: op.GetName(), Zone: zone, HTTPStatus: int(op.GetHttpErrorStatusCode())}
	for _, e := range errs {
		oe.Errors = append(oe.Errors, OperationErrorItem{Code: e.GetCode(), Message: e.GetMessage()})
	}
	return oe
}

// instanceResource is the instance Launch asks GCE for.
func (p *Provider) instanceResource(req cloud.LaunchRequest, zone, name string) *computepb.Instance {
	nic := &computepb.NetworkInterface{Network: proto.String(p.cfg.Network)}
	if p.cfg.Subnetwork != "" {
		nic.Subnetwork = proto.String(p.cfg.Subnetwork)
	}
	if p.cfg.ExternalIP {
		nic.AccessConfigs = []*computepb.AccessConfig{{
			Name: proto.String("External NAT"),
			Type: proto.String("ONE_TO_ONE_NAT"),
		}}
	}
	inst := &computepb.Instance{
		Name:        proto.String(name),
		MachineType: proto.String("zones/" + zone + "/machineTypes/" + req.Offering.InstanceType),
		Disks: []*computepb.AttachedDisk{{
			Boot:       proto.Bool(true),
			AutoDelete: proto.Bool(true),
			Type:       proto.String("PERSISTENT"),
			InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String(p.cfg.Image),
				DiskSizeGb:  proto.Int64(int64(p.cfg.DiskGB)),
			},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{nic},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{
			{Key: proto.String(MetadataStartupScript), Value: proto.String(req.Bootstrap)},
			{Key: proto.String(MetadataNodeClass), Value: proto.String(req.Class())},
		}},
		Labels:     labelsFor(req),
		Scheduling: scheduling(req.Offering.Spot),
	}
	if p.cfg.ServiceAccount != "" {
		inst.ServiceAccounts = []*computepb.ServiceAccount{{
			Email:  proto.String(p.cfg.ServiceAccount),
			Scopes: []string{cloudPlatformScope},
		}}
	}
	return inst
}

// scheduling is SPOT, deleted when preempted, or STANDARD.
func scheduling(spot bool) *computepb.Scheduling {
	if !spot {
		return &computepb.Scheduling{ProvisioningModel: proto.String("STANDARD")}
	}
	return &computepb.Scheduling{
		ProvisioningModel:         proto.String("SPOT"),
		InstanceTerminationAction: proto.String("DELETE"),
		AutomaticRestart:          proto.Bool(false),
		OnHostMaintenance:         proto.String("TERMINATE"),
	}
}

// regionZones returns the zones of the provider's region, from GCE.
func (p *Provider) regionZones(ctx context.Context) ([]string, error) {
	r, err := p.regions.Get(ctx, &computepb.GetRegionRequest{Project: p.cfg.Project, Region: p.region})
	if err != nil {
		return nil, fmt.Errorf("gcp: zones of %s: %w", p.region, err)
	}
	zones := make([]string, 0, len(r.GetZones()))
	for _, z := range r.GetZones() {
		zones = append(zones, path.Base(z))
	}
	slices.Sort(zones)
	if len(zones) == 0 {
		return nil, fmt.Errorf("gcp: region %s has no zones", p.region)
	}
	return zones, nil
}

// List returns the instances of nodeClass in the provider's region that are
// not yet terminated, by ID. It selects by the node class label and, where
// an instance has the skynomad-node-class metadata, by the exact class.
func (p *Provider) List(ctx context.Context, nodeClass string) ([]cloud.Instance, error) {
	filter := fmt.Sprintf("labels.%s = %q", LabelKey(cloud.TagNodeClass), LabelValue(nodeClass))
	it := p.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{
		Project: p.cfg.Project,
		Filter:  proto.String(filter),
	})
	var out []cloud.Instance
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("gcp: list %s: %w", nodeClass, err)
		}
		for _, inst := range pair.Value.GetInstances() {
			zone := path.Base(inst.GetZone())
			if !strings.HasPrefix(zone, p.region+"-") || !sameClass(inst, nodeClass) {
				continue
			}
			state, ok := stateOf(inst.GetStatus())
			if !ok {
				continue
			}
			created, _ := time.Parse(time.RFC3339, inst.GetCreationTimestamp())
			out = append(out, cloud.Instance{ID: zone + "/" + inst.GetName(), Zone: zone, State: state, Created: created})
		}
	}
	slices.SortFunc(out, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// sameClass reports whether inst's metadata names nodeClass, or names none.
func sameClass(inst *computepb.Instance, nodeClass string) bool {
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == MetadataNodeClass {
			return it.GetValue() == nodeClass
		}
	}
	return true
}

// stateOf maps a GCE instance status to a State; false for an instance
// that is terminated (TERMINATED: stopped, no longer running work).
func stateOf(status string) (cloud.State, bool) {
	switch status {
	case "PROVISIONING", "STAGING", "REPAIRING":
		return cloud.Pending, true
	case "RUNNING":
		return cloud.Running, true
	case "TERMINATED":
		return "", false
	case "STOPPING", "SUSPENDING", "SUSPENDED", "PENDING_STOP":
		return cloud.Terminating, true
	}
	// A status this code does not know yet: still there, not usable.
	return cloud.Pending, true
}

// Terminate deletes the instances with these IDs ("<zone>/<name>"); one
// that is already gone is not an error. It does not wait for the deletes:
// List shows them Terminating until they are gone.
func (p *Provider) Terminate(ctx context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		zone, name, ok := strings.Cut(id, "/")
		if !ok || zone == "" || name == "" || strings.Contains(name, "/") {
			errs = append(errs, fmt.Errorf("gcp: terminate: instance ID %q: want <zone>/<name>", id))
			continue
		}
		_, err := p.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: p.cfg.Project, Zone: zone, Instance: name})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("gcp: terminate %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
