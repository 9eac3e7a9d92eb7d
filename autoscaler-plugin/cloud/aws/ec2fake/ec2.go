package ec2fake

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
)

// stateCodes are EC2's instance state codes.
var stateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

type xmlState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func state(name string) xmlState { return xmlState{Code: stateCodes[name], Name: name} }

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xmlGroup struct {
	GroupID string `xml:"groupId"`
}

type xmlInstance struct {
	InstanceID        string     `xml:"instanceId"`
	ImageID           string     `xml:"imageId"`
	State             xmlState   `xml:"instanceState"`
	PrivateDNSName    string     `xml:"privateDnsName"`
	PrivateIPAddress  string     `xml:"privateIpAddress"`
	KeyName           string     `xml:"keyName,omitempty"`
	AMILaunchIndex    int        `xml:"amiLaunchIndex"`
	InstanceType      string     `xml:"instanceType"`
	LaunchTime        string     `xml:"launchTime"`
	AvailabilityZone  string     `xml:"placement>availabilityZone"`
	Tenancy           string     `xml:"placement>tenancy"`
	SubnetID          string     `xml:"subnetId,omitempty"`
	ClientToken       string     `xml:"clientToken,omitempty"`
	InstanceLifecycle string     `xml:"instanceLifecycle,omitempty"`
	ProfileArn        string     `xml:"iamInstanceProfile>arn,omitempty"`
	StateReasonCode   string     `xml:"stateReason>code,omitempty"`
	Groups            []xmlGroup `xml:"groupSet>item"`
	Tags              []xmlTag   `xml:"tagSet>item"`
	Architecture      string     `xml:"architecture"`
	RootDeviceType    string     `xml:"rootDeviceType"`
	RootDeviceName    string     `xml:"rootDeviceName"`
	VirtualType       string     `xml:"virtualizationType"`
	Hypervisor        string     `xml:"hypervisor"`
	EbsOptimized      bool       `xml:"ebsOptimized"`
}

func (i *instance) xml() xmlInstance {
	x := xmlInstance{
		InstanceID:       i.id,
		ImageID:          i.image,
		State:            state(i.state),
		PrivateDNSName:   "ip-" + strings.ReplaceAll(i.privateIP, ".", "-") + "." + i.region + ".compute.internal",
		PrivateIPAddress: i.privateIP,
		KeyName:          i.keyName,
		InstanceType:     i.instanceType,
		LaunchTime:       i.launched.UTC().Format("2006-01-02T15:04:05.000Z"),
		AvailabilityZone: i.zone,
		Tenancy:          "default",
		SubnetID:         i.subnet,
		ClientToken:      i.clientToken,
		StateReasonCode:  i.stateReason,
		Architecture:     "x86_64",
		RootDeviceType:   "ebs",
		RootDeviceName:   "/dev/sda1",
		VirtualType:      "hvm",
		Hypervisor:       "xen",
	}
	if i.spot {
		x.InstanceLifecycle = "spot"
	}
	if i.profile != "" {
		x.ProfileArn = i.profile
	}
	for _, g := range i.groups {
		x.Groups = append(x.Groups, xmlGroup{GroupID: g})
	}
	for _, t := range i.tags {
		x.Tags = append(x.Tags, xmlTag{Key: t.key, Value: t.value})
	}
	return x
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type xmlRunInstancesResponse struct {
	XMLName   xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ RunInstancesResponse"`
	RequestID string   `xml:"requestId"`
	xmlReservation
}

// runInstances launches MaxCount instances (the fake never runs short),
// unless a refusal, an unoffered zone or a bad parameter stops it.
func (s *Server) runInstances(reqID, region string, f url.Values) (any, *apiError) {
	for _, p := range []string{"ImageId", "InstanceType", "MinCount", "MaxCount"} {
		if f.Get(p) == "" {
			return nil, errorf("MissingParameter", "The request must contain the parameter %s", p)
		}
	}
	image, typ := f.Get("ImageId"), f.Get("InstanceType")
	if !strings.HasPrefix(image, "ami-") {
		return nil, errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", image)
	}
	minCount, err1 := strconv.Atoi(f.Get("MinCount"))
	maxCount, err2 := strconv.Atoi(f.Get("MaxCount"))
	if err1 != nil || err2 != nil || minCount < 1 || maxCount < minCount {
		return nil, errorf("InvalidParameterValue", "MinCount %q and MaxCount %q must be whole numbers with 1 <= MinCount <= MaxCount",
			f.Get("MinCount"), f.Get("MaxCount"))
	}
	spot, aerr := marketOptions(f)
	if aerr != nil {
		return nil, aerr
	}
	userData, err := base64.StdEncoding.DecodeString(f.Get("UserData"))
	if err != nil {
		return nil, errorf("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
	}
	tags, aerr := instanceTags(f)
	if aerr != nil {
		return nil, aerr
	}
	zone, aerr := s.launchZone(region, typ, f)
	if aerr != nil {
		return nil, aerr
	}
	if r, ok := s.refusals.Find(zone, typ, spot); ok {
		msg := r.Message
		if msg == "" {
			msg = defaultRefusal(r.Code, typ, zone)
		}
		return nil, &apiError{status: statusOf(r.Code), code: r.Code, message: msg}
	}
	profile := f.Get("IamInstanceProfile.Arn")
	if name := f.Get("IamInstanceProfile.Name"); name != "" {
		profile = "arn:aws:iam::" + ownerID + ":instance-profile/" + name
	}

	s.mu.Lock()
	s.advance()
	token := region + "/" + f.Get("ClientToken")
	if ids, seen := s.tokens[token]; seen && f.Get("ClientToken") != "" {
		resp := s.reservationOf(reqID, ids)
		s.mu.Unlock()
		return resp, nil
	}
	now := s.opts.Now()
	s.seq++
	reservation := fmt.Sprintf("r-0%016x", mix(s.seq))
	var ids []string
	var booted []cloudfake.Machine
	for range maxCount {
		s.seq++
		i := &instance{
			id: fmt.Sprintf("i-0%016x", mix(s.seq)), region: region, zone: zone, instanceType: typ, image: image,
			reservation: reservation, clientToken: f.Get("ClientToken"),
			privateIP: fmt.Sprintf("10.0.%d.%d", (len(s.instances)/250)%256, len(s.instances)%250+4),
			subnet:    f.Get("SubnetId"), keyName: f.Get("KeyName"), profile: profile,
			groups: list(f, "SecurityGroupId"), spot: spot, tags: tags, userData: string(userData),
			launched: now, state: "pending", changed: now,
		}
		s.instances = append(s.instances, i)
		s.byID[i.id] = i
		ids = append(ids, i.id)
		booted = append(booted, i.machine())
	}
	if f.Get("ClientToken") != "" {
		s.tokens[token] = ids
	}
	resp := s.reservationOf(reqID, ids)
	s.mu.Unlock()

	if h := s.opts.Hooks.Boot; h != nil {
		for _, m := range booted {
			go h(m)
		}
	}
	return resp, nil
}

// reservationOf answers a RunInstances with the instances' current state.
// Called with s.mu held.
func (s *Server) reservationOf(reqID string, ids []string) xmlRunInstancesResponse {
	resp := xmlRunInstancesResponse{RequestID: reqID}
	resp.OwnerID = ownerID
	for n, id := range ids {
		i := s.byID[id]
		resp.ReservationID = i.reservation
		x := i.xml()
		x.AMILaunchIndex = n
		resp.Instances = append(resp.Instances, x)
	}
	return resp
}

// launchZone is where a RunInstances lands: the subnet's zone, the
// placement's, or the first of the region offering the type.
func (s *Server) launchZone(region, typ string, f url.Values) (string, *apiError) {
	zones := s.zones(region)
	zone := f.Get("Placement.AvailabilityZone")
	if subnet := f.Get("SubnetId"); subnet != "" {
		sz, ok := s.opts.Subnets[subnet]
		if !ok || !slices.Contains(zones, sz) {
			return "", errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnet)
		}
		if zone != "" && zone != sz {
			return "", errorf("InvalidParameterCombination", "The subnet %s is in %s, not in the requested Availability Zone %s", subnet, sz, zone)
		}
		zone = sz
	}
	if zone == "" {
		for _, z := range zones {
			if s.offered(typ, z) {
				return z, nil
			}
		}
		return "", errorf("Unsupported", "The requested configuration is currently not supported. Please check the documentation for supported configurations.")
	}
	if !slices.Contains(zones, zone) {
		return "", errorf("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	}
	if !s.offered(typ, zone) {
		var others []string
		for _, z := range zones {
			if s.offered(typ, z) {
				others = append(others, z)
			}
		}
		return "", errorf("Unsupported", "Your requested instance type (%s) is not supported in your requested Availability Zone (%s). "+
			"Please retry your request by not specifying an Availability Zone or choosing %s.", typ, zone, strings.Join(others, ", "))
	}
	return zone, nil
}

// marketOptions reads InstanceMarketOptions: whether the launch is spot.
func marketOptions(f url.Values) (bool, *apiError) {
	switch mt := f.Get("InstanceMarketOptions.MarketType"); mt {
	case "":
		return false, nil
	case "spot":
	default:
		return false, errorf("InvalidParameterValue", "Value (%s) for parameter InstanceMarketOptions.MarketType is invalid.", mt)
	}
	checks := []struct{ param, allowed string }{
		{"InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time persistent"},
		{"InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "hibernate stop terminate"},
	}
	for _, c := range checks {
		if v := f.Get(c.param); v != "" && !slices.Contains(strings.Fields(c.allowed), v) {
			return false, errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", v, c.param)
		}
	}
	if f.Get("InstanceMarketOptions.SpotOptions.SpotInstanceType") == "one-time" &&
		slices.Contains([]string{"stop", "hibernate"}, f.Get("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior")) {
		return false, errorf("InvalidParameterCombination", "One-time Spot Instances can only be terminated when interrupted.")
	}
	return true, nil
}

// instanceTags are the tags of the TagSpecification for resource type
// instance.
func instanceTags(f url.Values) ([]tag, *apiError) {
	var tags []tag
	for n := 1; ; n++ {
		p := fmt.Sprintf("TagSpecification.%d", n)
		rt := f.Get(p + ".ResourceType")
		if rt == "" {
			return tags, nil
		}
		if !slices.Contains([]string{"instance", "volume", "network-interface", "spot-instances-request"}, rt) {
			return nil, errorf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for m := 1; ; m++ {
			k := fmt.Sprintf("%s.Tag.%d", p, m)
			if _, ok := f[k+".Key"]; !ok {
				break
			}
			key := f.Get(k + ".Key")
			if key == "" || strings.HasPrefix(strings.ToLower(key), "aws:") {
				return nil, errorf("InvalidParameterValue", "Tag key %q is not valid", key)
			}
			if rt == "instance" {
				tags = append(tags, tag{key: key, value: f.Get(k + ".Value")})
			}
		}
	}
}

func defaultRefusal(code, typ, zone string) string {
	switch code {
	case "InsufficientInstanceCapacity":
		return fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "+
			"Our system will be working on provisioning additional capacity.", typ, zone)
	case "InstanceLimitExceeded":
		return fmt.Sprintf("You have requested more instances than your current instance limit allows for the specified instance type (%s).", typ)
	case "VcpuLimitExceeded":
		return "You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to."
	case "MaxSpotInstanceCountExceeded":
		return "Max spot instance count exceeded"
	case "SpotMaxPriceTooLow":
		return "Your Spot request price is lower than the minimum required Spot request fulfillment price."
	}
	return fmt.Sprintf("ec2fake refuses %s in %s with %s", typ, zone, code)
}

// mix spreads a sequence number over 64 bits so IDs look like EC2's.
func mix(n uint64) uint64 {
	n ^= n >> 33
	n *= 0xff51afd7ed558ccd
	n ^= n >> 33
	return n
}

type xmlDescribeInstancesResponse struct {
	XMLName      xml.Name         `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeInstancesResponse"`
	RequestID    string           `xml:"requestId"`
	Reservations []xmlReservation `xml:"reservationSet>item"`
}

func (s *Server) describeInstances(reqID, region string, f url.Values) (any, *apiError) {
	fs, aerr := filters(f)
	if aerr != nil {
		return nil, aerr
	}
	for _, fl := range fs {
		if !strings.HasPrefix(fl.name, "tag:") && !slices.Contains(
			[]string{"instance-state-name", "instance-id", "availability-zone", "instance-type"}, fl.name) {
			return nil, errorf("InvalidParameterValue", "The filter '%s' is invalid", fl.name)
		}
	}
	ids := list(f, "InstanceId")

	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	var missing []string
	for _, id := range ids {
		if i, ok := s.byID[id]; !ok || i.region != region {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, notFound(missing)
	}
	resp := xmlDescribeInstancesResponse{RequestID: reqID}
	for _, i := range s.instances {
		if i.region != region || (len(ids) > 0 && !slices.Contains(ids, i.id)) || !i.matches(fs) {
			continue
		}
		if n := len(resp.Reservations); n == 0 || resp.Reservations[n-1].ReservationID != i.reservation {
			resp.Reservations = append(resp.Reservations, xmlReservation{ReservationID: i.reservation, OwnerID: ownerID})
		}
		r := &resp.Reservations[len(resp.Reservations)-1]
		r.Instances = append(r.Instances, i.xml())
	}
	return resp, nil
}

// matches reports whether the instance passes every filter (values of one
// filter are ORed; filter values match exactly).
func (i *instance) matches(fs []filter) bool {
	for _, fl := range fs {
		var have []string
		switch {
		case strings.HasPrefix(fl.name, "tag:"):
			for _, t := range i.tags {
				if t.key == strings.TrimPrefix(fl.name, "tag:") {
					have = append(have, t.value)
				}
			}
		case fl.name == "instance-state-name":
			have = []string{i.state}
		case fl.name == "instance-id":
			have = []string{i.id}
		case fl.name == "availability-zone":
			have = []string{i.zone}
		case fl.name == "instance-type":
			have = []string{i.instanceType}
		}
		if !slices.ContainsFunc(have, func(v string) bool { return slices.Contains(fl.values, v) }) {
			return false
		}
	}
	return true
}

type xmlStateChange struct {
	InstanceID    string   `xml:"instanceId"`
	CurrentState  xmlState `xml:"currentState"`
	PreviousState xmlState `xml:"previousState"`
}

type xmlTerminateInstancesResponse struct {
	XMLName   xml.Name         `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ TerminateInstancesResponse"`
	RequestID string           `xml:"requestId"`
	Changes   []xmlStateChange `xml:"instancesSet>item"`
}

// terminateInstances moves the instances to shutting-down (terminated
// ones stay terminated). One unknown ID fails the whole request, as in EC2.
func (s *Server) terminateInstances(reqID, region string, f url.Values) (any, *apiError) {
	ids := list(f, "InstanceId")
	if len(ids) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, errorf("InvalidInstanceID.Malformed", "Invalid id: %q", id)
		}
	}
	s.mu.Lock()
	s.advance()
	var missing []string
	for _, id := range ids {
		if i, ok := s.byID[id]; !ok || i.region != region {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		s.mu.Unlock()
		return nil, notFound(missing)
	}
	resp := xmlTerminateInstancesResponse{RequestID: reqID}
	var ended []cloudfake.Machine
	now := s.opts.Now()
	for _, id := range ids {
		i := s.byID[id]
		prev := i.state
		if prev != "shutting-down" && prev != "terminated" {
			i.state, i.changed, i.stateReason = "shutting-down", now, "Client.UserInitiatedShutdown"
			ended = append(ended, i.machine())
		}
		resp.Changes = append(resp.Changes, xmlStateChange{InstanceID: id, CurrentState: state(i.state), PreviousState: state(prev)})
	}
	s.mu.Unlock()
	if h := s.opts.Hooks.Terminate; h != nil {
		for _, m := range ended {
			go h(m)
		}
	}
	return resp, nil
}

type xmlOffering struct {
	InstanceType string `xml:"instanceType"`
	LocationType string `xml:"locationType"`
	Location     string `xml:"location"`
}

type xmlDescribeInstanceTypeOfferingsResponse struct {
	XMLName   xml.Name      `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeInstanceTypeOfferingsResponse"`
	RequestID string        `xml:"requestId"`
	Offerings []xmlOffering `xml:"instanceTypeOfferingSet>item"`
}

func (s *Server) describeInstanceTypeOfferings(reqID, region string, f url.Values) (any, *apiError) {
	fs, aerr := filters(f)
	if aerr != nil {
		return nil, aerr
	}
	var typesWanted, locations []string
	for _, fl := range fs {
		switch fl.name {
		case "instance-type":
			typesWanted = append(typesWanted, fl.values...)
		case "location":
			locations = append(locations, fl.values...)
		default:
			return nil, errorf("InvalidParameterValue", "The filter '%s' is invalid", fl.name)
		}
	}
	if len(typesWanted) == 0 {
		return nil, errorf("InvalidParameterValue", "ec2fake: DescribeInstanceTypeOfferings needs an instance-type filter (the fake has no instance type catalog)")
	}
	lt := f.Get("LocationType")
	var where []string
	switch lt {
	case "", "region":
		lt, where = "region", []string{region}
	case "availability-zone":
		where = s.zones(region)
	default:
		return nil, errorf("InvalidParameterValue", "ec2fake: LocationType %q is not served (region or availability-zone)", lt)
	}
	resp := xmlDescribeInstanceTypeOfferingsResponse{RequestID: reqID}
	for _, typ := range typesWanted {
		for _, loc := range where {
			if (lt == "availability-zone" && !s.offered(typ, loc)) || (len(locations) > 0 && !slices.Contains(locations, loc)) {
				continue
			}
			resp.Offerings = append(resp.Offerings, xmlOffering{InstanceType: typ, LocationType: lt, Location: loc})
		}
	}
	return resp, nil
}

type xmlImage struct {
	ImageID        string `xml:"imageId"`
	Name           string `xml:"name"`
	State          string `xml:"imageState"`
	OwnerID        string `xml:"imageOwnerId"`
	Public         bool   `xml:"isPublic"`
	Architecture   string `xml:"architecture"`
	ImageType      string `xml:"imageType"`
	RootDeviceType string `xml:"rootDeviceType"`
	RootDeviceName string `xml:"rootDeviceName"`
	Virtualization string `xml:"virtualizationType"`
}

type xmlDescribeImagesResponse struct {
	XMLName   xml.Name   `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeImagesResponse"`
	RequestID string     `xml:"requestId"`
	Images    []xmlImage `xml:"imagesSet>item"`
}

func (s *Server) describeImages(reqID string, f url.Values) (any, *apiError) {
	resp := xmlDescribeImagesResponse{RequestID: reqID}
	for _, id := range list(f, "ImageId") {
		if !strings.HasPrefix(id, "ami-") {
			return nil, errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
		}
		resp.Images = append(resp.Images, xmlImage{
			ImageID: id, Name: "ec2fake-" + id, State: "available", OwnerID: ownerID, Public: true,
			Architecture: "x86_64", ImageType: "machine", RootDeviceType: "ebs", RootDeviceName: "/dev/sda1",
			Virtualization: "hvm",
		})
	}
	return resp, nil
}
