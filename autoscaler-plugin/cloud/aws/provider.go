package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

// maxUserData is the most user data EC2 takes, before base64 (16 KB).
const maxUserData = 16 * 1024

// imageTTL is how long a resolved AMI is used before SSM is read again, so
// a long-running plugin follows the parameter's "current" image.
const imageTTL = time.Hour

// ec2API is the part of the EC2 client the Provider uses.
type ec2API interface {
	RunInstances(context.Context, *ec2.RunInstancesInput, ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	TerminateInstances(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	DescribeInstanceTypeOfferings(context.Context, *ec2.DescribeInstanceTypeOfferingsInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
}

// ssmAPI is the part of the SSM client the Provider uses.
type ssmAPI interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Provider is EC2 in one region. It is safe for concurrent use.
type Provider struct {
	region string
	cfg    Config
	ec2    ec2API
	ssm    ssmAPI
	now    func() time.Time

	mu       sync.Mutex
	image    image
	resolved time.Time // when image was resolved; zero: not yet
}

var _ cloud.Provider = (*Provider)(nil)

// image is the AMI instances boot from.
type image struct {
	id         string
	rootDevice string // set only when Config.RootVolumeGB asks for a size
}

// New returns the Provider of region. It makes no request: the AMI is
// resolved on the first Launch.
func New(ctx context.Context, region string, cfg Config) (*Provider, error) {
	if region == "" {
		return nil, errors.New("aws: region: required")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := []func(*config.LoadOptions) error{config.WithRegion(region), config.WithRetryer(newRetryer)}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: load the SDK config: %w", err)
	}
	var endpoint *string
	if cfg.Endpoint != "" {
		endpoint = awssdk.String(cfg.Endpoint)
	}
	return &Provider{
		region: region,
		cfg:    cfg,
		ec2: ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
			if endpoint != nil {
				o.BaseEndpoint = endpoint
			}
		}),
		ssm: ssm.NewFromConfig(awsCfg, func(o *ssm.Options) {
			if endpoint != nil {
				o.BaseEndpoint = endpoint
			}
		}),
		now: time.Now,
	}, nil
}

// newRetryer is the SDK's standard retryer, except that it does not retry
// capacity refusals: EC2 sends InsufficientInstanceCapacity as an HTTP 500,
// which the standard retryer would repeat for seconds in a zone that has
// none, when the next zone should be tried at once.
func newRetryer() awssdk.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		refusal := retry.IsErrorRetryableFunc(func(err error) awssdk.Ternary {
			if Classify(err, "") != nil {
				return awssdk.FalseTernary
			}
			return awssdk.UnknownTernary
		})
		o.Retryables = append([]retry.IsErrorRetryable{refusal}, o.Retryables...)
	})
}

// Launch starts req.Count instances of the offering, spread round-robin
// over the zones of req.Zones that offer the type, one RunInstances per
// zone. What a zone does not give is asked of the zones after it, then of
// the zones before it that gave all they were asked. When fewer than
// req.Count start, the error is the last *cloud.CapacityError seen (with
// its zone), the last other error wrapped, or both joined.
func (p *Provider) Launch(ctx context.Context, req cloud.LaunchRequest) ([]cloud.Instance, error) {
	if req.Count <= 0 {
		return nil, nil
	}
	if req.Offering.InstanceType == "" {
		return nil, errors.New("aws: launch: the offering has no instance type")
	}
	if len(req.Bootstrap) > maxUserData {
		return nil, fmt.Errorf("aws: launch: the bootstrap is %d bytes; EC2 user data takes at most %d", len(req.Bootstrap), maxUserData)
	}
	img, err := p.resolveImage(ctx)
	if err != nil {
		return nil, err
	}
	zones := p.offeringZones(ctx, req.Offering.InstanceType, req.Zones)
	if len(zones) == 0 {
		return nil, &cloud.CapacityError{Cloud: "aws", Kind: cloud.Unsupported, Code: "Unsupported",
			Message: fmt.Sprintf("DescribeInstanceTypeOfferings lists %s in none of %s", req.Offering.InstanceType, strings.Join(req.Zones, ", "))}
	}

	var (
		launched []cloud.Instance
		lastCap  *cloud.CapacityError
		lastErr  error
		short    = map[string]bool{} // zones that gave less than asked
	)
	try := func(zone string, n int) (missing int) {
		got, err := p.run(ctx, req, img, zone, n)
		launched = append(launched, got...)
		if ce := Classify(err, zone); ce != nil {
			lastCap = ce
		} else if err != nil {
			lastErr = fmt.Errorf("aws: RunInstances %s in %s: %w", req.Offering.InstanceType, zoneName(zone), err)
		}
		if len(got) < n {
			short[zone] = true
		}
		return n - len(got)
	}
	missing := 0
	for i, n := range spread(req.Count, len(zones)) {
		if n+missing > 0 && ctx.Err() == nil {
			missing = try(zones[i], n+missing)
		}
	}
	for _, zone := range zones {
		if missing > 0 && !short[zone] && ctx.Err() == nil {
			missing = try(zone, missing)
		}
	}
	if missing == 0 {
		return launched, nil
	}
	switch {
	case lastCap != nil && lastErr != nil:
		return launched, errors.Join(lastCap, lastErr)
	case lastCap != nil:
		return launched, lastCap
	case lastErr != nil:
		return launched, lastErr
	case ctx.Err() != nil:
		return launched, fmt.Errorf("aws: launch: %d of %d started: %w", len(launched), req.Count, ctx.Err())
	default:
		return launched, fmt.Errorf("aws: launch: EC2 started %d of %d %s instances and gave no reason",
			len(launched), req.Count, req.Offering.InstanceType)
	}
}

// run is one RunInstances of up to n instances in zone ("" lets EC2 pick).
func (p *Provider) run(ctx context.Context, req cloud.LaunchRequest, img image, zone string, n int) ([]cloud.Instance, error) {
	in := &ec2.RunInstancesInput{
		ImageId:           awssdk.String(img.id),
		InstanceType:      types.InstanceType(req.Offering.InstanceType),
		MinCount:          awssdk.Int32(1),
		MaxCount:          awssdk.Int32(int32(min(n, math.MaxInt32))),
		UserData:          awssdk.String(base64.StdEncoding.EncodeToString([]byte(req.Bootstrap))),
		TagSpecifications: tagSpecifications(req.Tags),
	}
	if subnet := p.cfg.SubnetIDs[zone]; subnet != "" {
		in.SubnetId = awssdk.String(subnet)
	} else if zone != "" {
		in.Placement = &types.Placement{AvailabilityZone: awssdk.String(zone)}
	}
	if len(p.cfg.SecurityGroupIDs) > 0 {
		in.SecurityGroupIds = slices.Clone(p.cfg.SecurityGroupIDs)
	}
	if prof := p.cfg.InstanceProfile; strings.HasPrefix(prof, "arn:") {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: awssdk.String(prof)}
	} else if prof != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: awssdk.String(prof)}
	}
	if p.cfg.KeyName != "" {
		in.KeyName = awssdk.String(p.cfg.KeyName)
	}
	if p.cfg.RootVolumeGB > 0 {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{
			DeviceName: awssdk.String(img.rootDevice),
			Ebs: &types.EbsBlockDevice{
				VolumeSize:          awssdk.Int32(int32(p.cfg.RootVolumeGB)),
				DeleteOnTermination: awssdk.Bool(true),
			},
		}}
	}
	if req.Offering.Spot {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{
			MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{
				SpotInstanceType:             types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate,
			},
		}
	}
	out, err := p.ec2.RunInstances(ctx, in)
	if err != nil {
		return nil, err
	}
	instances := make([]cloud.Instance, 0, len(out.Instances))
	for _, i := range out.Instances {
		inst := toInstance(i)
		if inst.Zone == "" {
			inst.Zone = zone
		}
		instances = append(instances, inst)
	}
	return instances, nil
}

// tagSpecifications tags the instance and its volumes with tags.
func tagSpecifications(tags map[string]string) []types.TagSpecification {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ts := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		ts = append(ts, types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	return []types.TagSpecification{
		{ResourceType: types.ResourceTypeInstance, Tags: ts},
		{ResourceType: types.ResourceTypeVolume, Tags: slices.Clone(ts)},
	}
}

// spread splits count over n zones round-robin: the first count%n zones
// get one more.
func spread(count, n int) []int {
	plan := make([]int, n)
	for i := range plan {
		plan[i] = count / n
		if i < count%n {
			plan[i]++
		}
	}
	return plan
}

// offeringZones narrows zones to those where EC2 offers the type. When
// DescribeInstanceTypeOfferings itself fails, zones are used as given
// (RunInstances will say which refuses). No zones at all lets EC2 pick.
func (p *Provider) offeringZones(ctx context.Context, instanceType string, zones []string) []string {
	zones = dedupe(zones)
	if len(zones) == 0 {
		return []string{""}
	}
	offered := map[string]bool{}
	pages := ec2.NewDescribeInstanceTypeOfferingsPaginator(p.ec2, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: types.LocationTypeAvailabilityZone,
		Filters:      []types.Filter{{Name: awssdk.String("instance-type"), Values: []string{instanceType}}},
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return zones
		}
		for _, o := range out.InstanceTypeOfferings {
			offered[awssdk.ToString(o.Location)] = true
		}
	}
	var keep []string
	for _, z := range zones {
		if offered[z] {
			keep = append(keep, z)
		}
	}
	return keep
}

// resolveImage returns the AMI to launch: Config.AMI, or the value of the
// SSM parameter (read again after imageTTL), with its root device name
// when the root volume is to be sized.
func (p *Provider) resolveImage(ctx context.Context) (image, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.resolved.IsZero() && (p.cfg.AMI != "" || p.now().Sub(p.resolved) < imageTTL) {
		return p.image, nil
	}
	img := image{id: p.cfg.AMI}
	if img.id == "" {
		out, err := p.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(p.cfg.SSMParameter)})
		if err != nil {
			return image{}, fmt.Errorf("aws: %s: read the AMI from SSM parameter %s: %w", KeySSMParameter, p.cfg.SSMParameter, err)
		}
		if out.Parameter != nil {
			img.id = awssdk.ToString(out.Parameter.Value)
		}
		if !strings.HasPrefix(img.id, "ami-") {
			return image{}, fmt.Errorf("aws: %s: SSM parameter %s holds %q, not an AMI ID", KeySSMParameter, p.cfg.SSMParameter, img.id)
		}
	}
	if p.cfg.RootVolumeGB > 0 {
		out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{img.id}})
		if err != nil {
			return image{}, fmt.Errorf("aws: describe AMI %s for its root device (%s): %w", img.id, KeyRootVolumeGB, err)
		}
		if len(out.Images) == 0 || awssdk.ToString(out.Images[0].RootDeviceName) == "" {
			return image{}, fmt.Errorf("aws: AMI %s: EC2 names no root device to size (%s)", img.id, KeyRootVolumeGB)
		}
		img.rootDevice = awssdk.ToString(out.Images[0].RootDeviceName)
	}
	p.image, p.resolved = img, p.now()
	return img, nil
}

// liveStates are the instance states List reports: all but terminated.
var liveStates = []string{"pending", "running", "stopping", "stopped", "shutting-down"}

// List returns the instances tagged with nodeClass that are not terminated,
// ordered by ID.
func (p *Provider) List(ctx context.Context, nodeClass string) ([]cloud.Instance, error) {
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{
		Filters: []types.Filter{
			{Name: awssdk.String("tag:" + cloud.TagNodeClass), Values: []string{nodeClass}},
			{Name: awssdk.String("instance-state-name"), Values: liveStates},
		},
	})
	var out []cloud.Instance
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws: DescribeInstances of %s: %w", nodeClass, err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if i.State != nil && i.State.Name == types.InstanceStateNameTerminated {
					continue
				}
				out = append(out, toInstance(i))
			}
		}
	}
	slices.SortFunc(out, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func toInstance(i types.Instance) cloud.Instance {
	inst := cloud.Instance{ID: awssdk.ToString(i.InstanceId), Created: awssdk.ToTime(i.LaunchTime), State: cloud.Terminating}
	if i.Placement != nil {
		inst.Zone = awssdk.ToString(i.Placement.AvailabilityZone)
	}
	if i.State != nil {
		switch i.State.Name {
		case types.InstanceStateNamePending:
			inst.State = cloud.Pending
		case types.InstanceStateNameRunning:
			inst.State = cloud.Running
		}
	}
	return inst
}

// Terminate ends the instances. IDs EC2 no longer knows
// (InvalidInstanceID.NotFound) are already gone, which is not an error: they
// are dropped and the rest terminated.
func (p *Provider) Terminate(ctx context.Context, ids []string) error {
	ids = dedupe(ids)
	for len(ids) > 0 {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
		if err == nil || !isNotFound(err) {
			return wrapTerminate(err)
		}
		gone := namedIn(err, ids)
		if len(gone) == 0 {
			return p.terminateEach(ctx, ids)
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(gone, id) })
	}
	return nil
}

// terminateEach terminates the IDs one at a time, when EC2's NotFound
// message named none of them.
func (p *Provider) terminateEach(ctx context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		if err != nil && !isNotFound(err) {
			errs = append(errs, wrapTerminate(err))
		}
	}
	return errors.Join(errs...)
}

func wrapTerminate(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("aws: TerminateInstances: %w", err)
}

func isNotFound(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidInstanceID.NotFound"
}

// namedIn returns the ids that err's message names, as EC2 does in "The
// instance IDs 'i-1, i-2' do not exist".
func namedIn(err error, ids []string) []string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return nil
	}
	words := strings.FieldsFunc(apiErr.ErrorMessage(), func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	var named []string
	for _, id := range ids {
		if slices.Contains(words, id) {
			named = append(named, id)
		}
	}
	return named
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func zoneName(zone string) string {
	if zone == "" {
		return "the zone EC2 picked"
	}
	return zone
}
