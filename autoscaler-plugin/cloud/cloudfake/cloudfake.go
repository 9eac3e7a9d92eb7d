// Package cloudfake holds what the fake cloud control planes (aws/ec2fake,
// gcp/gcefake) share: the machines they "boot" and the refusals a test
// makes them answer. The fakes stand in for EC2 and GCE only, at their HTTP
// APIs; everything past the API (a booted instance running its bootstrap)
// is the test's, through Hooks.
package cloudfake

import (
	"strings"
	"sync"
	"time"
)

// Machine is one instance a fake launched.
type Machine struct {
	Cloud        string // "aws" or "gcp"
	ID           string // as the provider names it (cloud.Instance.ID)
	Zone         string
	InstanceType string
	Spot         bool
	Tags         map[string]string // labels on GCP
	// Bootstrap is the decoded user data / startup-script.
	Bootstrap string
	Created   time.Time
	// State is "pending", "running", "terminating" or "terminated".
	State string
}

// Hooks let a test act when the fake's instances start and end; each runs
// in its own goroutine, never under the fake's lock.
type Hooks struct {
	// Boot is called once an instance is launched (it is "pending" until
	// the fake's BootDelay has passed, then "running").
	Boot func(Machine)
	// Terminate is called when an instance is terminated or preempted.
	Terminate func(Machine)
}

// Refusal makes a fake refuse launches that match it with the cloud's own
// error code (and message).
type Refusal struct {
	Zone         string // empty: every zone
	InstanceType string // empty: every type
	Spot         *bool  // nil: both
	Code         string // e.g. InsufficientInstanceCapacity, ZONE_RESOURCE_POOL_EXHAUSTED
	Message      string
}

// Matches reports whether a launch of instanceType in zone is refused.
func (r Refusal) Matches(zone, instanceType string, spot bool) bool {
	return (r.Zone == "" || r.Zone == zone) &&
		(r.InstanceType == "" || strings.EqualFold(r.InstanceType, instanceType)) &&
		(r.Spot == nil || *r.Spot == spot)
}

// Refusals is a concurrency-safe list of Refusal.
type Refusals struct {
	mu   sync.Mutex
	list []Refusal
}

// Add makes launches matching r fail from now on.
func (rs *Refusals) Add(r Refusal) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.list = append(rs.list, r)
}

// Clear lifts every refusal.
func (rs *Refusals) Clear() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.list = nil
}

// Find returns the first refusal matching the launch, if any.
func (rs *Refusals) Find(zone, instanceType string, spot bool) (Refusal, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.list {
		if r.Matches(zone, instanceType, spot) {
			return r, true
		}
	}
	return Refusal{}, false
}
