package engine

import (
	"fmt"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
)

// NodeMember maps node k of a job group's attempt (members' nodes in
// member order) to its member and its rank within the member.
func (a *Attempt) NodeMember(k int) (member, rank int) {
	for i, m := range a.Members {
		n := max(m.Task.NumNodes, 1)
		if k < n {
			return i, k
		}
		k -= n
	}
	return -1, -1
}

// MemberView is member i of a job group's attempt seen as an attempt of a
// single task, for the code that places one task's nodes.
func (a *Attempt) MemberView(i int) *Attempt {
	m := a.Members[i]
	v := *a
	v.Ref.Task = i
	v.Task, v.Choice, v.Env, v.Secrets, v.Files = m.Task, m.Choice, m.Env, m.Secrets, m.Files
	v.Members = nil
	return &v
}

// GroupNode is what an engine sees of one node of a job group's attempt.
type GroupNode struct {
	Member int
	// Ended: the node's task ended; Succeeded: by itself, run exit 0.
	Ended, Succeeded bool
	EndedAt          time.Time
}

// GroupProgress is where a job group's attempt stands once no node has
// failed: whether every primary member succeeded, and when each
// auxiliary member still running is to be stopped.
type GroupProgress struct {
	PrimariesDone bool
	// DoneAt is when the last primary node ended.
	DoneAt time.Time
	// StopAt holds, per auxiliary member with a node still running, the
	// time it is stopped: DoneAt plus its TerminationDelay.
	StopAt map[int]time.Time
}

// Progress decides GroupProgress from the nodes' states (see
// GroupProgress). A node that ended without succeeding before the
// primary members were done is the engine's to report as the attempt's
// failure, as for any multi-node attempt.
func (a *Attempt) Progress(nodes []GroupNode) GroupProgress {
	var p GroupProgress
	p.PrimariesDone = true
	running := map[int]bool{}
	for _, n := range nodes {
		if n.Member < 0 || n.Member >= len(a.Members) {
			continue
		}
		if !n.Ended {
			running[n.Member] = true
		}
		if !a.Members[n.Member].Primary {
			continue
		}
		if !n.Ended || !n.Succeeded {
			p.PrimariesDone = false
		} else if n.EndedAt.After(p.DoneAt) {
			p.DoneAt = n.EndedAt
		}
	}
	if !p.PrimariesDone {
		return GroupProgress{}
	}
	for i, m := range a.Members {
		if !m.Primary && running[i] {
			if p.StopAt == nil {
				p.StopAt = map[int]time.Time{}
			}
			p.StopAt[i] = p.DoneAt.Add(m.TerminationDelay)
		}
	}
	return p
}

// SetFiles gives the attempt's task, or each member of a job group, what
// files(task index) says its nodes fetch. The first error stops it,
// naming the task.
func (a *Attempt) SetFiles(files func(task int) (node.Files, error)) error {
	if len(a.Members) == 0 {
		f, err := files(a.Ref.Task)
		if err != nil {
			return fmt.Errorf("task %d (%s): %w", a.Ref.Task, a.Task.Name, err)
		}
		a.Files = f
		return nil
	}
	for i := range a.Members {
		f, err := files(i)
		if err != nil {
			return fmt.Errorf("task %d (%s): %w", i, a.Members[i].Task.Name, err)
		}
		a.Members[i].Files = f
	}
	a.Files = a.Members[0].Files
	return nil
}
