package aws

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

// capacityKinds maps the EC2 error codes that mean "no capacity for you
// here" to their kind. The codes and their meanings are those of "Error
// codes for the Amazon EC2 API",
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html:
//
//   - server errors (HTTP 5xx): InsufficientInstanceCapacity (not enough
//     capacity of the type for the request), InsufficientHostCapacity
//     (Dedicated Hosts), InsufficientReservedInstanceCapacity,
//     InsufficientCapacity;
//   - client errors (HTTP 4xx): InstanceLimitExceeded (the On-Demand
//     instance limit), VcpuLimitExceeded (the vCPU limit of the account),
//     MaxSpotInstanceCountExceeded (the Spot Instance limit).
//
// SpotMaxPriceTooLow is what RunInstances answers a Spot request whose
// maximum price is below the Spot price; the page's copy consulted does
// not list it, but EC2 returns it and cloud.Price names it.
// SpotInstanceRequestLimitExceeded is not an EC2 error code (the page does
// not list it; the Spot limit is MaxSpotInstanceCountExceeded), so it is
// not mapped.
var capacityKinds = map[string]cloud.CapacityKind{
	"InsufficientInstanceCapacity":         cloud.Stockout,
	"InsufficientHostCapacity":             cloud.Stockout,
	"InsufficientReservedInstanceCapacity": cloud.Stockout,
	"InsufficientCapacity":                 cloud.Stockout,
	"InstanceLimitExceeded":                cloud.Quota,
	"VcpuLimitExceeded":                    cloud.Quota,
	"MaxSpotInstanceCountExceeded":         cloud.Quota,
	"SpotMaxPriceTooLow":                   cloud.Price,
}

// Classify returns the *cloud.CapacityError that err (an EC2 API error)
// stands for in zone, or nil when err is not a capacity refusal.
//
// Unsupported ("you might be trying to launch an instance in an
// Availability Zone that currently has constraints on that instance type")
// and InvalidParameterCombination count only when the message says the
// type or configuration is not supported in the zone, as in "Your
// requested instance type (m5.large) is not supported in your requested
// Availability Zone (us-east-1e)"; other uses of those codes (an AMI that
// does not fit the type, say) are configuration errors, not capacity.
func Classify(err error, zone string) *cloud.CapacityError {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return nil
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	kind, ok := capacityKinds[code]
	if !ok && (code == "Unsupported" || code == "InvalidParameterCombination") && unsupportedHere(msg) {
		kind, ok = cloud.Unsupported, true
	}
	if !ok {
		return nil
	}
	return &cloud.CapacityError{Cloud: "aws", Kind: kind, Code: code, Zone: zone, Message: msg}
}

// unsupportedHere reports whether an Unsupported or
// InvalidParameterCombination message says the instance type (or the
// requested configuration) is not offered in the zone or region.
func unsupportedHere(msg string) bool {
	m := strings.ToLower(msg)
	if !strings.Contains(m, "not supported") && !strings.Contains(m, "unsupported") {
		return false
	}
	return strings.Contains(m, "availability zone") ||
		strings.Contains(m, "requested configuration is currently not supported") ||
		(strings.Contains(m, "instance type") && (strings.Contains(m, "not supported in") || strings.Contains(m, "unsupported in")))
}
