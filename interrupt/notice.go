package interrupt

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Cloud names the provider whose metadata service a Watcher reads.
type Cloud string

const (
	CloudAWS   Cloud = "aws"
	CloudGCP   Cloud = "gcp"
	CloudAzure Cloud = "azure"
)

// Action says what the cloud will do to the instance.
type Action string

const (
	// ActionTerminate, ActionStop and ActionHibernate are AWS spot
	// interruption actions: the instance goes away at the deadline.
	ActionTerminate Action = "terminate"
	ActionStop      Action = "stop"
	ActionHibernate Action = "hibernate"
	// ActionPreempt is a GCP preemption or an Azure "Preempt" event.
	ActionPreempt Action = "preempt"
	// ActionRebalance is AWS's rebalance recommendation: a hint that the
	// instance is at elevated risk, with no deadline. What the handler does
	// with it is configured (RebalancePolicy).
	ActionRebalance Action = "rebalance"
)

// Interrupts reports whether the action takes the instance away: every
// action except a rebalance recommendation.
func (a Action) Interrupts() bool { return a != ActionRebalance }

// Notice is one interruption notice read from a cloud metadata service.
type Notice struct {
	Cloud  Cloud
	Action Action
	// NoticeTime is when the notice was issued (AWS rebalance: the cloud's
	// noticeTime) or, when the cloud does not say, when it was first seen.
	NoticeTime time.Time
	// Deadline is when the cloud acts on the instance. Zero for a
	// rebalance recommendation.
	Deadline time.Time
	// EventID identifies an Azure scheduled event (acknowledged once the
	// node's tasks are stopped). Empty for other clouds.
	EventID string
}

func (n Notice) String() string {
	s := fmt.Sprintf("%s %s notice at %s", n.Cloud, n.Action, n.NoticeTime.UTC().Format(time.RFC3339))
	if !n.Deadline.IsZero() {
		s += ", deadline " + n.Deadline.UTC().Format(time.RFC3339)
	}
	if n.EventID != "" {
		s += ", event " + n.EventID
	}
	return s
}

// Watcher reads one cloud's metadata service. Next blocks until a notice
// not returned before appears, or ctx ends. Errors are transient (the
// metadata service did not answer as expected); the caller retries.
type Watcher interface {
	Next(ctx context.Context) (Notice, error)
}

// Acknowledger is an optional Watcher capability: tell the cloud the node
// is ready for the event (Azure Scheduled Events' StartRequests). The
// handler calls it after the node's allocations have been stopped.
type Acknowledger interface {
	Acknowledge(ctx context.Context, n Notice) error
}

// MetadataError is an unexpected answer from a cloud metadata service.
type MetadataError struct {
	Cloud  Cloud
	URL    string
	Status int // HTTP status; 0 when the request itself failed
	Err    error
}

func (e *MetadataError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s metadata %s: HTTP %d: %v", e.Cloud, e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("%s metadata %s: %v", e.Cloud, e.URL, e.Err)
}

func (e *MetadataError) Unwrap() error { return e.Err }

func newMetadataError(c Cloud, url string, status int, err error) error {
	return &MetadataError{Cloud: c, URL: url, Status: status, Err: err}
}

// IsMetadataError reports whether err came from a metadata service.
func IsMetadataError(err error) bool {
	var me *MetadataError
	return errors.As(err, &me)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, after func(time.Duration) <-chan time.Time, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-after(d):
		return nil
	}
}
