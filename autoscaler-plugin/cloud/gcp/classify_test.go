package gcp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp"
)

const stockoutMsg = "The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later."

// httpErr is a googleapi.Error as the client builds it from GCE's body.
func httpErr(code int, reason, msg string) *googleapi.Error {
	return &googleapi.Error{Code: code, Message: msg, Errors: []googleapi.ErrorItem{{Reason: reason, Message: msg}}}
}

// viaGax wraps err as gax does before the client returns it.
func viaGax(err error) error {
	if ae, ok := apierror.FromError(err); ok {
		return ae
	}
	return err
}

func opErr(code, msg string) error {
	return fmt.Errorf("waiting: %w", &gcp.OperationError{
		Operation: "operation-1", Zone: "us-central1-a", HTTPStatus: 503,
		Errors: []gcp.OperationErrorItem{{Code: code, Message: msg}},
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	const zone = "us-central1-a"
	capErr := func(kind cloud.CapacityKind, code, zone, msg string) *cloud.CapacityError {
		return &cloud.CapacityError{Cloud: "gcp", Kind: kind, Code: code, Zone: zone, Message: msg}
	}
	machineMsg := "Invalid value for field 'resource.machineType': 'zones/us-central1-a/machineTypes/c4-standard-8'. Machine type with name 'c4-standard-8' does not exist in zone 'us-central1-a'."
	quotaMsg := "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1."
	tests := []struct {
		name string
		err  error
		want *cloud.CapacityError
	}{
		{"nil", nil, nil},
		{"operation ZONE_RESOURCE_POOL_EXHAUSTED", opErr("ZONE_RESOURCE_POOL_EXHAUSTED", stockoutMsg),
			capErr(cloud.Stockout, "ZONE_RESOURCE_POOL_EXHAUSTED", zone, stockoutMsg)},
		{"operation ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", opErr("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", stockoutMsg),
			capErr(cloud.Stockout, "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", zone, stockoutMsg)},
		{"operation QUOTA_EXCEEDED is the region's", opErr("QUOTA_EXCEEDED", quotaMsg),
			capErr(cloud.Quota, "QUOTA_EXCEEDED", "", quotaMsg)},
		{"operation UNSUPPORTED_OPERATION", opErr("UNSUPPORTED_OPERATION", "not for spot"),
			capErr(cloud.Unsupported, "UNSUPPORTED_OPERATION", zone, "not for spot")},
		{"operation stockout under another code", opErr("RESOURCE_EXHAUSTED", stockoutMsg),
			capErr(cloud.Stockout, "RESOURCE_EXHAUSTED", zone, stockoutMsg)},
		{"operation other error", opErr("RESOURCE_NOT_FOUND", "The resource 'projects/p/global/images/x' was not found"), nil},
		{"HTTP 403 quotaExceeded", viaGax(httpErr(403, "quotaExceeded", quotaMsg)),
			capErr(cloud.Quota, "quotaExceeded", "", quotaMsg)},
		{"HTTP 503 resourcePoolExhausted", viaGax(httpErr(503, "resourcePoolExhausted", stockoutMsg)),
			capErr(cloud.Stockout, "resourcePoolExhausted", zone, stockoutMsg)},
		{"HTTP 400 machine type not in zone", viaGax(httpErr(400, "invalid", machineMsg)),
			capErr(cloud.Unsupported, "invalid", zone, machineMsg)},
		{"HTTP 404 machine type not found", viaGax(httpErr(404, "notFound", "The resource 'projects/p/zones/us-central1-a/machineTypes/a3-megagpu-8g' was not found")),
			capErr(cloud.Unsupported, "notFound", zone, "The resource 'projects/p/zones/us-central1-a/machineTypes/a3-megagpu-8g' was not found")},
		{"HTTP 403 rateLimitExceeded is not capacity", viaGax(httpErr(403, "rateLimitExceeded", "Rate Limit Exceeded")), nil},
		{"HTTP 403 rate limit saying quota is not capacity", viaGax(httpErr(403, "rateLimitExceeded", "CONCURRENT_OPERATIONS_QUOTA_EXCEEDED")), nil},
		{"HTTP 400 other invalid field", viaGax(httpErr(400, "invalid", "Invalid value for field 'resource.name': 'X'.")), nil},
		{"HTTP 404 instance", viaGax(httpErr(404, "notFound", "The resource 'projects/p/zones/z/instances/i' was not found")), nil},
		{"operation folded into a message by Wait", viaGax(&googleapi.Error{Code: 503,
			Message: `SERVICE UNAVAILABLE: errors:{code:"ZONE_RESOURCE_POOL_EXHAUSTED" message:"no room"}`}),
			capErr(cloud.Stockout, "ZONE_RESOURCE_POOL_EXHAUSTED", zone, `SERVICE UNAVAILABLE: errors:{code:"ZONE_RESOURCE_POOL_EXHAUSTED" message:"no room"}`)},
		{"already a capacity error", fmt.Errorf("x: %w", capErr(cloud.Stockout, "ZONE_RESOURCE_POOL_EXHAUSTED", "us-central1-b", "m")),
			capErr(cloud.Stockout, "ZONE_RESOURCE_POOL_EXHAUSTED", "us-central1-b", "m")},
		{"context canceled", context.Canceled, nil},
		{"plain error naming a code", errors.New("ZONE_RESOURCE_POOL_EXHAUSTED"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := gcp.Classify(tt.err, zone)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Classify(%v) (-want +got):\n%s", tt.err, diff)
			}
		})
	}
}
