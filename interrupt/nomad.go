package interrupt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// Nomad's names the handler uses. (An allocation is skynomad's when its
// job ID starts with naming.JobPrefix and its job carries meta
// naming.MetaJobID: see allocInfo.skynomad.)
const (
	signalTerm    = "SIGTERM"
	taskRunning   = "running"
	eventSignaled = api.TaskSignaling
)

// nodeInfo is what the handler needs of its node.
type nodeInfo struct {
	ID         string
	Name       string
	Eligible   bool
	Draining   bool
	Attributes map[string]string
}

// allocInfo is what the handler needs of one allocation on its node.
type allocInfo struct {
	ID            string
	Namespace     string
	JobID         string
	NodeID        string
	NodeName      string
	SkyJobID      string // job meta sky.job_id; empty for other jobs
	ClientStatus  string
	DesiredStatus string
	// RunningTasks lists tasks in state "running"; Signaled those whose
	// events already show a signal.
	RunningTasks []string
	Signaled     map[string]bool
}

// skynomad reports whether the allocation belongs to a managed job.
func (a allocInfo) skynomad() bool {
	return strings.HasPrefix(a.JobID, naming.JobPrefix) && a.SkyJobID != ""
}

// active reports whether the allocation still runs or is about to, and
// nobody asked it to stop yet.
func (a allocInfo) active() bool {
	return a.DesiredStatus == api.AllocDesiredStatusRun &&
		(a.ClientStatus == api.AllocClientStatusPending || a.ClientStatus == api.AllocClientStatusRunning)
}

// preemptionRecord is the content of the Nomad Variable
// naming.PreemptionVariable(allocID), which marks an allocation as stopped
// by a spot notice. The Nomad engine reads it to classify the allocation's
// end as a preemption, never as a user failure. It lives in the
// allocation's namespace.
type preemptionRecord struct {
	Namespace  string
	AllocID    string
	NodeID     string
	NodeName   string
	NoticeTime time.Time
	Deadline   time.Time
	Cloud      Cloud
	Action     Action
}

func (r preemptionRecord) items() map[string]string {
	return map[string]string{
		naming.PreemptionNodeID:     r.NodeID,
		naming.PreemptionNodeName:   r.NodeName,
		naming.PreemptionNoticeTime: r.NoticeTime.UTC().Format(time.RFC3339),
		naming.PreemptionDeadline:   r.Deadline.UTC().Format(time.RFC3339),
		naming.PreemptionCloud:      string(r.Cloud),
		naming.PreemptionAction:     string(r.Action),
	}
}

// nomadActions is everything the handler asks of Nomad. apiActions is the
// real one; tests use a fake to check the order of calls.
type nomadActions interface {
	Node(ctx context.Context, nodeID string) (nodeInfo, error)
	SetIneligible(ctx context.Context, nodeID string) error
	// Drain starts draining the node, leaving system jobs (this handler)
	// in place.
	Drain(ctx context.Context, nodeID string, deadline time.Duration) error
	NodeAllocs(ctx context.Context, nodeID string) ([]allocInfo, error)
	PreemptionRecorded(ctx context.Context, namespace, allocID string) (bool, error)
	RecordPreemption(ctx context.Context, r preemptionRecord) error
	Signal(ctx context.Context, a allocInfo, task, signal string) error
	Stop(ctx context.Context, a allocInfo) error
}

// apiActions implements nomadActions with the Nomad HTTP API client.
type apiActions struct {
	c *api.Client
}

var _ nomadActions = apiActions{}

func (n apiActions) Node(ctx context.Context, nodeID string) (nodeInfo, error) {
	node, _, err := n.c.Nodes().Info(nodeID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nodeInfo{}, fmt.Errorf("read node %s: %w", nodeID, err)
	}
	return nodeInfo{
		ID:         node.ID,
		Name:       node.Name,
		Eligible:   node.SchedulingEligibility != api.NodeSchedulingIneligible,
		Draining:   node.DrainStrategy != nil,
		Attributes: node.Attributes,
	}, nil
}

func (n apiActions) SetIneligible(ctx context.Context, nodeID string) error {
	if _, err := n.c.Nodes().ToggleEligibility(nodeID, false, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("mark node %s ineligible: %w", nodeID, err)
	}
	return nil
}

func (n apiActions) Drain(ctx context.Context, nodeID string, deadline time.Duration) error {
	opts := &api.DrainOptions{
		DrainSpec: &api.DrainSpec{Deadline: deadline, IgnoreSystemJobs: true},
		Meta:      map[string]string{"message": "skynomad: rebalance recommendation"},
	}
	if _, err := n.c.Nodes().UpdateDrainOpts(nodeID, opts, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("drain node %s: %w", nodeID, err)
	}
	return nil
}

func (n apiActions) NodeAllocs(ctx context.Context, nodeID string) ([]allocInfo, error) {
	allocs, _, err := n.c.Nodes().Allocations(nodeID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list allocations of node %s: %w", nodeID, err)
	}
	out := make([]allocInfo, 0, len(allocs))
	for _, a := range allocs {
		out = append(out, toAllocInfo(a))
	}
	return out, nil
}

func toAllocInfo(a *api.Allocation) allocInfo {
	info := allocInfo{
		ID:            a.ID,
		Namespace:     a.Namespace,
		JobID:         a.JobID,
		NodeID:        a.NodeID,
		NodeName:      a.NodeName,
		ClientStatus:  a.ClientStatus,
		DesiredStatus: a.DesiredStatus,
		Signaled:      map[string]bool{},
	}
	if a.Job != nil {
		info.SkyJobID = a.Job.Meta[naming.MetaJobID]
	}
	for name, ts := range a.TaskStates {
		if ts == nil {
			continue
		}
		if ts.State == taskRunning {
			info.RunningTasks = append(info.RunningTasks, name)
		}
		for _, ev := range ts.Events {
			if ev != nil && ev.Type == eventSignaled {
				info.Signaled[name] = true
			}
		}
	}
	return info
}

func (n apiActions) PreemptionRecorded(ctx context.Context, namespace, allocID string) (bool, error) {
	q := (&api.QueryOptions{Namespace: namespace}).WithContext(ctx)
	v, _, err := n.c.Variables().Peek(naming.PreemptionVariable(allocID), q)
	if err != nil {
		return false, fmt.Errorf("read variable %s: %w", naming.PreemptionVariable(allocID), err)
	}
	return v != nil, nil
}

func (n apiActions) RecordPreemption(ctx context.Context, r preemptionRecord) error {
	v := &api.Variable{Namespace: r.Namespace, Path: naming.PreemptionVariable(r.AllocID), Items: r.items()}
	w := (&api.WriteOptions{Namespace: r.Namespace}).WithContext(ctx)
	if _, _, err := n.c.Variables().Create(v, w); err != nil {
		return fmt.Errorf("write variable %s: %w", v.Path, err)
	}
	return nil
}

func (n apiActions) Signal(ctx context.Context, a allocInfo, task, signal string) error {
	q := (&api.QueryOptions{Namespace: a.Namespace}).WithContext(ctx)
	if err := n.c.Allocations().Signal(&api.Allocation{ID: a.ID, Namespace: a.Namespace}, q, task, signal); err != nil {
		return fmt.Errorf("signal %s to task %s of allocation %s: %w", signal, task, a.ID, err)
	}
	return nil
}

func (n apiActions) Stop(ctx context.Context, a allocInfo) error {
	q := (&api.QueryOptions{Namespace: a.Namespace}).WithContext(ctx)
	_, err := n.c.Allocations().Stop(&api.Allocation{ID: a.ID, Namespace: a.Namespace}, q)
	if err != nil {
		var ue api.UnexpectedResponseError
		if errors.As(err, &ue) && ue.StatusCode() == 404 {
			return nil // already gone: nothing to stop
		}
		return fmt.Errorf("stop allocation %s: %w", a.ID, err)
	}
	return nil
}
