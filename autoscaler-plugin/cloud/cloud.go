// Package cloud is the seam between the skynomad target plugin and a
// cloud's control plane: one Provider per cloud (cloud/aws, cloud/gcp)
// launches, lists and terminates the instances of one offering, and says
// why a cloud refused capacity with a *CapacityError.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Offering is what one autoscaler policy provisions: an instance type in a
// region of a cloud, as spot or on-demand capacity.
type Offering struct {
	Cloud        string // "aws" or "gcp"
	Region       string
	InstanceType string // EC2 instance type or GCE machine type
	Spot         bool
}

// Capacity is "spot" or "on-demand".
func (o Offering) Capacity() string {
	if o.Spot {
		return "spot"
	}
	return "on-demand"
}

// NodeClass is the offering's Nomad node class:
// sky-<cloud>-<region>-<instance type>-<capacity>.
func (o Offering) NodeClass() string {
	return "sky-" + o.Cloud + "-" + o.Region + "-" + o.InstanceType + "-" + o.Capacity()
}

// Instance is one VM a provider launched for an offering.
type Instance struct {
	// ID names the instance to the provider: the EC2 instance ID, or
	// "<zone>/<name>" on GCE. Nomad nodes carry it in meta sky.instance_id.
	ID      string
	Zone    string
	State   State
	Created time.Time
}

// State is an instance's lifecycle state, the same for every cloud.
type State string

const (
	Pending     State = "pending"     // requested, booting
	Running     State = "running"     // up (it may not have joined Nomad yet)
	Terminating State = "terminating" // shutting down or stopping
)

// Tag keys every launched instance carries (GCP label keys allow no ':' or
// '.', so cloud/gcp writes them with '-': skynomad-node-class, …).
const (
	TagNodeClass = "skynomad:node-class"
	TagOffering  = "skynomad:offering"
	TagManaged   = "skynomad:managed"
)

// LaunchRequest asks a provider for Count instances of Offering.
type LaunchRequest struct {
	Offering Offering
	// NodeClass is the node class the instances join, which List finds
	// them by: the offering's (Offering.NodeClass, when empty), or a
	// worker pool's sky-pool-<name>.
	NodeClass string
	Count     int
	// Zones are the zones to spread over, in order of preference; the
	// provider skips those that do not offer the type.
	Zones []string
	// Bootstrap is the user data (AWS) or startup-script (GCP) that makes
	// the instance a Nomad client of the offering's node class.
	Bootstrap string
	// Tags are set on every instance (TagNodeClass, TagOffering, TagManaged
	// and any the operator adds).
	Tags map[string]string
}

// Class is the node class the instances join: NodeClass, or the
// offering's.
func (r LaunchRequest) Class() string {
	if r.NodeClass != "" {
		return r.NodeClass
	}
	return r.Offering.NodeClass()
}

// Provider is one cloud's control plane, as the target plugin needs it.
type Provider interface {
	// Launch starts up to req.Count instances, spread over req.Zones, trying
	// the next zone where one refuses. It returns what it launched; when
	// that is fewer than asked, err says why (a *CapacityError when the
	// cloud refused capacity).
	Launch(ctx context.Context, req LaunchRequest) ([]Instance, error)
	// List returns the instances tagged with nodeClass that are not yet
	// terminated.
	List(ctx context.Context, nodeClass string) ([]Instance, error)
	// Terminate ends the instances with these IDs; ending one that is
	// already gone is not an error.
	Terminate(ctx context.Context, ids []string) error
}

// CapacityKind says what kind of "no" a cloud gave.
type CapacityKind string

const (
	// Stockout: the zone or region has no capacity of the type now
	// (InsufficientInstanceCapacity, ZONE_RESOURCE_POOL_EXHAUSTED).
	Stockout CapacityKind = "stockout"
	// Quota: an account or project limit (InstanceLimitExceeded,
	// VcpuLimitExceeded, MaxSpotInstanceCountExceeded, QUOTA_EXCEEDED).
	Quota CapacityKind = "quota"
	// Price: the spot price is above the maximum (SpotMaxPriceTooLow).
	Price CapacityKind = "price"
	// Unsupported: the type is not offered there (Unsupported,
	// InvalidParameterValue for the zone).
	Unsupported CapacityKind = "unsupported"
)

// CapacityError is a cloud's refusal to provide capacity for an offering.
type CapacityError struct {
	Cloud   string
	Kind    CapacityKind
	Code    string // the cloud's own error code, e.g. InsufficientInstanceCapacity
	Zone    string // where it was refused; empty for the whole region
	Message string // the cloud's message
}

func (e *CapacityError) Error() string {
	where := ""
	if e.Zone != "" {
		where = " in " + e.Zone
	}
	return fmt.Sprintf("%s: %s%s: %s", e.Cloud, e.Code, where, e.Message)
}

// AsCapacity returns the *CapacityError in err's chain, or nil.
func AsCapacity(err error) *CapacityError {
	var ce *CapacityError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// SplitList reads a comma-separated config value ("a, b,,c" is a, b, c),
// the form the autoscaler's map[string]string config gives lists in.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
