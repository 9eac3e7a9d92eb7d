package aws_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	const zone = "us-east-1a"
	tests := []struct {
		code, message string
		want          cloud.CapacityKind // "": not a capacity error
	}{
		{"InsufficientInstanceCapacity", "We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a).", cloud.Stockout},
		{"InsufficientHostCapacity", "There is not enough capacity to fulfill your Dedicated Host request.", cloud.Stockout},
		{"InsufficientReservedInstanceCapacity", "Not enough available Reserved Instances.", cloud.Stockout},
		{"InsufficientCapacity", "There is not enough capacity to fulfill your import instance request.", cloud.Stockout},
		{"InstanceLimitExceeded", "You have requested more instances (21) than your current instance limit of 20 allows.", cloud.Quota},
		{"VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 32 allows.", cloud.Quota},
		{"MaxSpotInstanceCountExceeded", "Max spot instance count exceeded", cloud.Quota},
		{"SpotMaxPriceTooLow", "Your Spot request price of 0.001 is lower than the minimum required Spot request fulfillment price of 0.0035.", cloud.Price},
		{"Unsupported", "Your requested instance type (p4d.24xlarge) is not supported in your requested Availability Zone (us-east-1a). Please retry your request by not specifying an Availability Zone or choosing us-east-1b.", cloud.Unsupported},
		{"Unsupported", "The requested configuration is currently not supported. Please check the documentation for supported configurations.", cloud.Unsupported},
		{"InvalidParameterCombination", "The requested configuration is currently not supported. Please check the documentation for supported configurations.", cloud.Unsupported},
		{"InvalidParameterCombination", "Your requested instance type (t2.micro) is not supported in your requested Availability Zone (us-east-1e).", cloud.Unsupported},
		// The same codes about something other than type and zone are configuration errors.
		{"Unsupported", "The specified request is unsupported: hibernation of this AMI.", ""},
		{"InvalidParameterCombination", "Non-Windows instances with a virtualization type of 'hvm' are currently not supported for this instance type.", ""},
		{"InvalidParameterCombination", "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI.", ""},
		// Not EC2 error codes, or not capacity.
		{"SpotInstanceRequestLimitExceeded", "made up", ""},
		{"InvalidAMIID.NotFound", "The image id '[ami-0123]' does not exist", ""},
		{"UnauthorizedOperation", "You are not authorized to perform this operation.", ""},
		{"RequestLimitExceeded", "Request limit exceeded.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+string(tt.want), func(t *testing.T) {
			t.Parallel()
			// Wrapped, as the SDK's operation error wraps the API error.
			err := fmt.Errorf("operation error EC2: RunInstances: %w", &smithy.GenericAPIError{Code: tt.code, Message: tt.message})
			var want *cloud.CapacityError
			if tt.want != "" {
				want = &cloud.CapacityError{Cloud: "aws", Kind: tt.want, Code: tt.code, Zone: zone, Message: tt.message}
			}
			if diff := cmp.Diff(want, aws.Classify(err, zone)); diff != "" {
				t.Errorf("Classify(%s: %q) (-want +got):\n%s", tt.code, tt.message, diff)
			}
		})
	}
}

func TestClassifyNonAPIErrors(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nil, errors.New("InsufficientInstanceCapacity"), fmt.Errorf("dial: %w", errors.New("refused"))} {
		if got := aws.Classify(err, "us-east-1a"); got != nil {
			t.Errorf("Classify(%v) = %v, want nil", err, got)
		}
	}
}
