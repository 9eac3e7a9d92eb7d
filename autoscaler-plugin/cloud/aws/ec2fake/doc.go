// Package ec2fake is a hand-written fake of the EC2 control plane, written
// because nothing real can run here: there is no EC2 emulator on this
// machine and tests must not reach AWS. It serves, on 127.0.0.1 only, the
// part of the EC2 Query API (API version 2016-11-15, the version
// aws-sdk-go-v2's service/ec2 speaks: form-encoded POSTs of
// Action=…&Version=2016-11-15, XML answers in the namespace
// http://ec2.amazonaws.com/doc/2016-11-15/) that cloud/aws uses:
//
//   - RunInstances: ImageId, InstanceType, MinCount/MaxCount,
//     Placement.AvailabilityZone or SubnetId (Options.Subnets), UserData,
//     TagSpecification (instance tags kept), SecurityGroupId,
//     IamInstanceProfile, KeyName, BlockDeviceMapping volume sizes,
//     InstanceMarketOptions (spot), ClientToken (a repeated token answers
//     the first launch again). Refusals and Options.NotOffered make it fail
//     as EC2 does.
//   - DescribeInstances: InstanceId and the filters tag:<key>,
//     instance-state-name, instance-id, availability-zone and
//     instance-type. Terminated instances stay listed as terminated, as in
//     EC2. MaxResults and NextToken are ignored: every match comes in one
//     page, and no nextToken is sent.
//   - TerminateInstances, with InvalidInstanceID.NotFound for unknown IDs.
//   - DescribeInstanceTypeOfferings: LocationType region or
//     availability-zone, filters instance-type (required: the fake has no
//     catalog; every type is offered everywhere except Options.NotOffered)
//     and location.
//   - DescribeImages: any ami-… ID is an available HVM image with root
//     device /dev/sda1.
//   - SSM GetParameter (AWS JSON 1.1: X-Amz-Target AmazonSSM.GetParameter,
//     application/x-amz-json-1.1) on the same server, from Options.AMIs.
//
// Any other action is an InvalidAction error. Requests must carry a SigV4
// Authorization header (else AuthFailure), so tests prove the SDK signs;
// the signature and credentials are not checked, but the region of its
// credential scope picks the region the request acts in.
//
// Errors are EC2's XML <Response><Errors><Error><Code/><Message/></Error>
// </Errors><RequestID/></Response>. The HTTP status follows "Error codes
// for the Amazon EC2 API"
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html):
// the codes it lists as server errors (InsufficientInstanceCapacity,
// InsufficientHostCapacity, InsufficientReservedInstanceCapacity,
// InsufficientCapacity, InternalError, Unavailable, …) come with 500, as
// that page says server errors come with a 500-series code; all others
// with 400, except AuthFailure with 401.
//
// Instance states advance whenever the fake answers RunInstances,
// DescribeInstances or TerminateInstances, or Machines is called: pending
// becomes running, and shutting-down becomes terminated, once
// Options.BootDelay has passed (0: at the next of those).
//
// Not implemented: stopping and starting, instance attributes beyond those
// above, network interfaces, real spot prices or capacity, wildcard filter
// values, forgetting terminated instances after an hour, and checking
// signatures.
package ec2fake
