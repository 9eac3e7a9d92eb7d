// Package aws is the EC2 side of the cloud seam: a Provider that launches,
// lists and terminates the instances of one offering with RunInstances,
// DescribeInstances and TerminateInstances, spreads launches over the
// zones that offer the instance type, and turns EC2's refusals into
// *cloud.CapacityError (Classify).
//
// Everything goes through aws-sdk-go-v2; Config.Endpoint points the EC2
// and SSM clients at another endpoint (VPC endpoints, GovCloud, the fake in
// ec2fake).
package aws
