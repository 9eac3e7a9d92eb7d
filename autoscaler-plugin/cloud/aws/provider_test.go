package aws_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws/ec2fake"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
)

const region = "us-east-1"

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// setup starts a fake EC2 and a Provider that talks to it through the SDK,
// signing with static credentials.
func setup(t *testing.T, o ec2fake.Options, cfg aws.Config) (*ec2fake.Server, *aws.Provider) {
	t.Helper()
	fake := ec2fake.New(o)
	t.Cleanup(fake.Close)
	cfg.Endpoint = fake.URL()
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	}
	p, err := aws.New(t.Context(), region, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, p
}

func offering(typ string, spot bool) cloud.Offering {
	return cloud.Offering{Cloud: "aws", Region: region, InstanceType: typ, Spot: spot}
}

func request(o cloud.Offering, count int) cloud.LaunchRequest {
	return cloud.LaunchRequest{
		Offering:  o,
		Count:     count,
		Zones:     zones,
		Bootstrap: "#!/bin/sh\necho join " + o.NodeClass() + "\n",
		Tags: map[string]string{
			cloud.TagNodeClass: o.NodeClass(),
			cloud.TagOffering:  "aws/" + region + "/" + o.InstanceType + "/" + o.Capacity(),
			cloud.TagManaged:   "true",
		},
	}
}

// zonesOf are the instances' zones, in order.
func zonesOf(instances []cloud.Instance) []string {
	var out []string
	for _, i := range instances {
		out = append(out, i.Zone)
	}
	return out
}

// wait receives n machines from ch, failing the test if they do not come.
func wait(t *testing.T, ch <-chan cloudfake.Machine, n int) []cloudfake.Machine {
	t.Helper()
	var got []cloudfake.Machine
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m := <-ch:
			got = append(got, m)
		case <-timeout:
			t.Fatalf("got %d hook calls, want %d", len(got), n)
		}
	}
	return got
}

func TestLaunchSpreadsOverZonesWithTagsAndBootstrap(t *testing.T) {
	t.Parallel()
	booted := make(chan cloudfake.Machine, 10)
	fake, p := setup(t, ec2fake.Options{Hooks: cloudfake.Hooks{Boot: func(m cloudfake.Machine) { booted <- m }}}, aws.Config{})
	req := request(offering("m5.large", false), 4)

	got, err := p.Launch(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"us-east-1a", "us-east-1a", "us-east-1b", "us-east-1c"}, zonesOf(got)); diff != "" {
		t.Errorf("zones of launched instances (-want +got):\n%s", diff)
	}
	for _, i := range got {
		if !strings.HasPrefix(i.ID, "i-0") || len(i.ID) != 19 || i.State != cloud.Pending || i.Created.IsZero() {
			t.Errorf("launched %+v, want an i-0… ID, pending, with a launch time", i)
		}
	}
	if n := fake.Calls("RunInstances"); n != 3 {
		t.Errorf("RunInstances called %d times, want one per zone (3)", n)
	}
	machines := wait(t, booted, len(got))
	for _, m := range machines {
		if diff := cmp.Diff(req.Tags, m.Tags); diff != "" {
			t.Errorf("%s tags (-want +got):\n%s", m.ID, diff)
		}
		if m.Bootstrap != req.Bootstrap || m.InstanceType != "m5.large" {
			t.Errorf("%s booted %s with user data %q, want m5.large with %q", m.ID, m.InstanceType, m.Bootstrap, req.Bootstrap)
		}
	}
	// Volumes are tagged too.
	run := fake.Requests("RunInstances")[0]
	if run.Get("TagSpecification.1.ResourceType") != "instance" || run.Get("TagSpecification.2.ResourceType") != "volume" ||
		run.Get("TagSpecification.2.Tag.1.Key") == "" {
		t.Errorf("RunInstances tag specifications: %v", run)
	}
}

func TestLaunchSpotCarriesMarketOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spot bool
		want map[string]string // RunInstances parameters; "" must be absent
	}{
		{spot: true, want: map[string]string{
			"InstanceMarketOptions.MarketType":                               "spot",
			"InstanceMarketOptions.SpotOptions.SpotInstanceType":             "one-time",
			"InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior": "terminate",
		}},
		{spot: false, want: map[string]string{
			"InstanceMarketOptions.MarketType":                   "",
			"InstanceMarketOptions.SpotOptions.SpotInstanceType": "",
		}},
	}
	for _, tt := range tests {
		o := offering("c5.xlarge", tt.spot)
		t.Run(o.Capacity(), func(t *testing.T) {
			t.Parallel()
			fake, p := setup(t, ec2fake.Options{}, aws.Config{})
			if _, err := p.Launch(t.Context(), request(o, 2)); err != nil {
				t.Fatal(err)
			}
			for _, m := range fake.Machines() {
				if m.Spot != tt.spot {
					t.Errorf("%s: Spot = %v, want %v", m.ID, m.Spot, tt.spot)
				}
			}
			for _, run := range fake.Requests("RunInstances") {
				for k, v := range tt.want {
					if run.Get(k) != v {
						t.Errorf("RunInstances %s = %q, want %q", k, run.Get(k), v)
					}
				}
			}
		})
	}
}

func TestLaunchRequestParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile string
		want    map[string]string // zone b's RunInstances parameters; "" must be absent
	}{
		{"profile by name", "skynomad-node", map[string]string{
			"IamInstanceProfile.Name": "skynomad-node", "IamInstanceProfile.Arn": "",
		}},
		{"profile by ARN", "arn:aws:iam::123456789012:instance-profile/skynomad-node", map[string]string{
			"IamInstanceProfile.Arn": "arn:aws:iam::123456789012:instance-profile/skynomad-node", "IamInstanceProfile.Name": "",
		}},
	}
	common := map[string]string{
		"ImageId":                             "ami-0123456789abcdef0",
		"SubnetId":                            "subnet-0b",
		"Placement.AvailabilityZone":          "",
		"SecurityGroupId.1":                   "sg-1",
		"SecurityGroupId.2":                   "sg-2",
		"KeyName":                             "ops",
		"BlockDeviceMapping.1.DeviceName":     "/dev/sda1",
		"BlockDeviceMapping.1.Ebs.VolumeSize": "64",
		"BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true",
		"MinCount": "1",
		"MaxCount": "1",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, p := setup(t, ec2fake.Options{Subnets: map[string]string{"subnet-0b": "us-east-1b"}}, aws.Config{
				AMI:              "ami-0123456789abcdef0",
				SubnetIDs:        map[string]string{"us-east-1b": "subnet-0b"},
				SecurityGroupIDs: []string{"sg-1", "sg-2"},
				InstanceProfile:  tt.profile,
				KeyName:          "ops",
				RootVolumeGB:     64,
			})
			got, err := p.Launch(t.Context(), request(offering("m5.large", false), 2))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"us-east-1a", "us-east-1b"}, zonesOf(got)); diff != "" {
				t.Errorf("zones (-want +got):\n%s", diff)
			}
			runs := fake.Requests("RunInstances")
			if len(runs) != 2 {
				t.Fatalf("%d RunInstances, want 2", len(runs))
			}
			if z := runs[0].Get("Placement.AvailabilityZone"); z != "us-east-1a" || runs[0].Get("SubnetId") != "" {
				t.Errorf("zone a without a subnet: Placement %q SubnetId %q, want placement only", z, runs[0].Get("SubnetId"))
			}
			want := maps.Clone(common)
			maps.Copy(want, tt.want)
			for k, v := range want {
				if runs[1].Get(k) != v {
					t.Errorf("RunInstances in us-east-1b: %s = %q, want %q", k, runs[1].Get(k), v)
				}
			}
		})
	}
}

// The end-to-end refusals: EC2's error code comes back through the SDK
// as the right kind, the zone named.
func TestLaunchRefusedEverywhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		spot bool
		want cloud.CapacityKind // "": not a capacity error
	}{
		{"InsufficientInstanceCapacity", false, cloud.Stockout},
		{"VcpuLimitExceeded", false, cloud.Quota},
		{"MaxSpotInstanceCountExceeded", true, cloud.Quota},
		{"SpotMaxPriceTooLow", true, cloud.Price},
		{"InvalidKeyPair.NotFound", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			fake, p := setup(t, ec2fake.Options{}, aws.Config{})
			fake.Refusals().Add(cloudfake.Refusal{Code: tt.code})
			got, err := p.Launch(t.Context(), request(offering("g5.xlarge", tt.spot), 2))
			if len(got) != 0 || len(fake.Machines()) != 0 {
				t.Errorf("launched %v, want nothing", got)
			}
			if n := fake.Calls("RunInstances"); n != len(zones) {
				t.Errorf("RunInstances called %d times, want once per zone (%d): refusals are not retried", n, len(zones))
			}
			ce := cloud.AsCapacity(err)
			if tt.want == "" {
				if ce != nil || err == nil || !strings.Contains(err.Error(), tt.code) {
					t.Errorf("err = %v, want a non-capacity error naming %s", err, tt.code)
				}
				return
			}
			if ce == nil {
				t.Fatalf("err = %v, want a *cloud.CapacityError", err)
			}
			want := &cloud.CapacityError{Cloud: "aws", Kind: tt.want, Code: tt.code, Zone: "us-east-1c"}
			if diff := cmp.Diff(want, ce, cmpopts.IgnoreFields(cloud.CapacityError{}, "Message")); diff != "" {
				t.Errorf("capacity error (-want +got):\n%s", diff)
			}
			if ce.Message == "" {
				t.Error("capacity error has no message")
			}
		})
	}
}

func TestLaunchFailsOverToTheNextZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		refuse    []string // zones refusing with InsufficientInstanceCapacity
		count     int
		wantZones []string
	}{
		{"first zone out", []string{"us-east-1a"}, 1, []string{"us-east-1b"}},
		{"two zones out", []string{"us-east-1a", "us-east-1b"}, 3, []string{"us-east-1c", "us-east-1c", "us-east-1c"}},
		{"last zone out, earlier zones take its share", []string{"us-east-1c"}, 3, []string{"us-east-1a", "us-east-1b", "us-east-1a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, p := setup(t, ec2fake.Options{}, aws.Config{})
			for _, z := range tt.refuse {
				fake.Refusals().Add(cloudfake.Refusal{Zone: z, Code: "InsufficientInstanceCapacity"})
			}
			got, err := p.Launch(t.Context(), request(offering("m5.large", true), tt.count))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("launched %d, want %d", len(got), tt.count)
			}
			var landed []string
			for _, m := range fake.Machines() {
				landed = append(landed, m.Zone)
			}
			if diff := cmp.Diff(tt.wantZones, landed, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("zones instances landed in (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLaunchSkipsZonesNotOfferingTheType(t *testing.T) {
	t.Parallel()
	fake, p := setup(t, ec2fake.Options{NotOffered: map[string][]string{"p4d.24xlarge": {"us-east-1a", "us-east-1c"}}}, aws.Config{})
	got, err := p.Launch(t.Context(), request(offering("p4d.24xlarge", false), 2))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"us-east-1b", "us-east-1b"}, zonesOf(got)); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	for _, run := range fake.Requests("RunInstances") {
		if z := run.Get("Placement.AvailabilityZone"); z != "us-east-1b" {
			t.Errorf("RunInstances asked for %s, which does not offer the type", z)
		}
	}
	if n := fake.Calls("DescribeInstanceTypeOfferings"); n != 1 {
		t.Errorf("DescribeInstanceTypeOfferings called %d times, want 1", n)
	}

	// No zone offers it: nothing is asked of RunInstances.
	runs := fake.Calls("RunInstances")
	req := request(offering("p4d.24xlarge", false), 1)
	req.Zones = []string{"us-east-1a", "us-east-1c"}
	got, err = p.Launch(t.Context(), req)
	if ce := cloud.AsCapacity(err); len(got) != 0 || ce == nil || ce.Kind != cloud.Unsupported {
		t.Errorf("Launch in zones not offering the type = %v, %v; want nothing and an Unsupported capacity error", got, err)
	}
	if fake.Calls("RunInstances") != runs {
		t.Error("RunInstances was called for zones that do not offer the type")
	}
}

func TestLaunchUnsupportedByRunInstancesIsClassified(t *testing.T) {
	t.Parallel()
	fake, p := setup(t, ec2fake.Options{}, aws.Config{})
	msg := "Your requested instance type (m5.large) is not supported in your requested Availability Zone (us-east-1a)."
	fake.Refusals().Add(cloudfake.Refusal{Zone: "us-east-1a", Code: "Unsupported", Message: msg})
	req := request(offering("m5.large", false), 1)
	req.Zones = []string{"us-east-1a"}
	_, err := p.Launch(t.Context(), req)
	want := &cloud.CapacityError{Cloud: "aws", Kind: cloud.Unsupported, Code: "Unsupported", Zone: "us-east-1a", Message: msg}
	if diff := cmp.Diff(want, cloud.AsCapacity(err)); diff != "" {
		t.Errorf("capacity error (-want +got):\n%s", diff)
	}
}

func TestLaunchResolvesAMI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      aws.Config
		amis     map[string]string
		wantAMI  string
		wantSSM  int
		wantName string
	}{
		{"default parameter", aws.Config{}, nil, ec2fake.DefaultAMI, 1, aws.DefaultSSMParameter},
		{"own parameter", aws.Config{SSMParameter: "/skynomad/ami"}, map[string]string{"/skynomad/ami": "ami-0bbbbbbbbbbbbbbbb"}, "ami-0bbbbbbbbbbbbbbbb", 1, "/skynomad/ami"},
		{"AMI given", aws.Config{AMI: "ami-0ccccccccccccccccc"}, nil, "ami-0ccccccccccccccccc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, p := setup(t, ec2fake.Options{AMIs: tt.amis}, tt.cfg)
			for range 2 { // the second launch uses the AMI resolved by the first
				if _, err := p.Launch(t.Context(), request(offering("m5.large", false), 1)); err != nil {
					t.Fatal(err)
				}
			}
			for _, run := range fake.Requests("RunInstances") {
				if got := run.Get("ImageId"); got != tt.wantAMI {
					t.Errorf("ImageId = %q, want %q", got, tt.wantAMI)
				}
			}
			gets := fake.Requests("GetParameter")
			if len(gets) != tt.wantSSM {
				t.Fatalf("GetParameter called %d times, want %d", len(gets), tt.wantSSM)
			}
			if len(gets) > 0 && gets[0].Get("Name") != tt.wantName {
				t.Errorf("GetParameter Name = %q, want %q", gets[0].Get("Name"), tt.wantName)
			}
		})
	}
}

func TestLaunchMissingSSMParameter(t *testing.T) {
	t.Parallel()
	fake, p := setup(t, ec2fake.Options{}, aws.Config{SSMParameter: "/no/such/parameter"})
	_, err := p.Launch(t.Context(), request(offering("m5.large", false), 1))
	if err == nil || !strings.Contains(err.Error(), aws.KeySSMParameter) || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Errorf("err = %v, want one naming %s and ParameterNotFound", err, aws.KeySSMParameter)
	}
	if fake.Calls("RunInstances") != 0 {
		t.Error("RunInstances was called without an AMI")
	}
}

func TestListFindsTheNodeClassNotTerminated(t *testing.T) {
	t.Parallel()
	fake, p := setup(t, ec2fake.Options{}, aws.Config{})
	mine, other := offering("m5.large", true), offering("m5.large", false)
	launched, err := p.Launch(t.Context(), request(mine, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Launch(t.Context(), request(other, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Terminate(t.Context(), []string{launched[0].ID}); err != nil {
		t.Fatal(err)
	}
	fake.Preempt(launched[1].ID)

	got, err := p.List(t.Context(), mine.NodeClass())
	if err != nil {
		t.Fatal(err)
	}
	want := []cloud.Instance{{ID: launched[2].ID, Zone: launched[2].Zone, State: cloud.Running, Created: launched[2].Created}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(%s) (-want +got):\n%s", mine.NodeClass(), diff)
	}
	// The terminated ones are still in DescribeInstances, as in EC2.
	terminated := 0
	for _, m := range fake.Machines() {
		if m.State == "terminated" {
			terminated++
		}
	}
	if terminated != 2 {
		t.Errorf("%d terminated machines, want 2", terminated)
	}

	got, err = p.List(t.Context(), other.NodeClass())
	if err != nil || len(got) != 1 {
		t.Errorf("List(%s) = %v, %v; want its one instance", other.NodeClass(), got, err)
	}
	if got, err := p.List(t.Context(), "sky-aws-us-east-1-nothing-spot"); err != nil || len(got) != 0 {
		t.Errorf("List of an unknown class = %v, %v; want nothing", got, err)
	}
}

func TestListStates(t *testing.T) {
	t.Parallel()
	fake, p := setup(t, ec2fake.Options{BootDelay: time.Hour}, aws.Config{})
	o := offering("m5.large", true)
	launched, err := p.Launch(t.Context(), request(o, 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Terminate(t.Context(), []string{launched[1].ID}); err != nil {
		t.Fatal(err)
	}
	got, err := p.List(t.Context(), o.NodeClass())
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]cloud.State{}
	for _, i := range got {
		states[i.ID] = i.State
	}
	want := map[string]cloud.State{launched[0].ID: cloud.Pending, launched[1].ID: cloud.Terminating}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	fake.Preempt(launched[0].ID)
	if got, _ := p.List(t.Context(), o.NodeClass()); slices.ContainsFunc(got, func(i cloud.Instance) bool { return i.ID == launched[0].ID }) {
		t.Errorf("List after preemption = %v, want the preempted instance gone", got)
	}
}

func TestTerminateIsIdempotent(t *testing.T) {
	t.Parallel()
	ended := make(chan cloudfake.Machine, 10)
	fake, p := setup(t, ec2fake.Options{Hooks: cloudfake.Hooks{Terminate: func(m cloudfake.Machine) { ended <- m }}}, aws.Config{})
	launched, err := p.Launch(t.Context(), request(offering("m5.large", false), 3))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := launched[0].ID, launched[1].ID, launched[2].ID
	const never1, never2 = "i-0123456789abcdef0", "i-0fedcba9876543210"
	steps := [][]string{
		{a, b},
		{a, b},              // again
		{never1, a, never2}, // with instances EC2 does not know
		{never1},
		{b, c, b},
		nil,
	}
	for _, ids := range steps {
		if err := p.Terminate(t.Context(), ids); err != nil {
			t.Errorf("Terminate(%v) = %v, want nil", ids, err)
		}
	}
	var gotEnded []string
	for _, m := range wait(t, ended, 3) {
		gotEnded = append(gotEnded, m.ID)
	}
	if diff := cmp.Diff([]string{a, b, c}, gotEnded, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Terminate hooks (-want +got):\n%s", diff)
	}
	for _, m := range fake.Machines() {
		if m.State != "terminated" {
			t.Errorf("%s is %s, want terminated", m.ID, m.State)
		}
	}
	select {
	case m := <-ended:
		t.Errorf("Terminate hook ran again for %s", m.ID)
	default:
	}

	if err := p.Terminate(t.Context(), []string{"i-nothex"}); err == nil || !strings.Contains(err.Error(), "InvalidInstanceID.Malformed") {
		t.Errorf("Terminate of a malformed ID = %v, want InvalidInstanceID.Malformed", err)
	}
}

func TestRequestsAreSigned(t *testing.T) {
	t.Parallel()
	// Anonymous credentials make the SDK skip signing; the fake refuses.
	fake, p := setup(t, ec2fake.Options{}, aws.Config{Credentials: awssdk.AnonymousCredentials{}})
	_, err := p.List(t.Context(), "sky-aws-us-east-1-m5.large-spot")
	if err == nil || !strings.Contains(err.Error(), "AuthFailure") {
		t.Errorf("unsigned List = %v, want AuthFailure", err)
	}
	if fake.Calls("DescribeInstances") == 0 {
		t.Error("the request never reached the fake")
	}
}
