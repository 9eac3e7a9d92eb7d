package nomad

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// topics the watcher subscribes to; it filters by watched job itself so
// the set of jobs can change without reconnecting.
func topics() map[api.Topic][]string {
	return map[api.Topic][]string{
		api.TopicAllocation: {"*"},
		api.TopicJob:        {"*"},
		api.TopicNode:       {"*"},
	}
}

// watchLoop follows Nomad's event stream from the saved index. After every
// (re)connect it lists the allocations of every watched job, because
// events older than Nomad's buffer are skipped silently (scenario 7).
// ?index=N replays N again, so frames at or below the last handled index
// are dropped.
func (e *Engine) watchLoop(ctx context.Context) {
	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		e.mu.Lock()
		from := e.last
		e.mu.Unlock()
		streamCtx, cancel := context.WithCancel(ctx)
		stream, err := e.client.EventStream().Stream(streamCtx, topics(), from, qo(streamCtx))
		if err != nil {
			cancel()
			e.log.Warn("event stream: connect failed", "err", err)
		} else {
			e.reconcileAll()
			e.follow(ctx, stream, ticker)
			cancel()
		}
		delay := time.NewTimer(e.cfg.ReconnectDelay)
		select {
		case <-ctx.Done():
			delay.Stop()
			return
		case <-delay.C:
		}
	}
}

func (e *Engine) follow(ctx context.Context, stream <-chan *api.Events, ticker *time.Ticker) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			e.tick()
		case evs, ok := <-stream:
			if !ok {
				e.log.Info("event stream closed; reconnecting")
				return
			}
			if evs.Err != nil {
				e.log.Warn("event stream error; reconnecting", "err", evs.Err)
				return
			}
			e.handle(evs)
		}
	}
}

// handle applies one frame: every event of one raft index.
func (e *Engine) handle(evs *api.Events) {
	e.mu.Lock()
	if evs.Index < e.last && evs.Index > 0 {
		// ?index=N never sends less than N: the cluster's state was reset
		// (a new dev agent). Start counting again.
		e.log.Warn("event stream went back in time; resetting the cursor", "from", e.last, "to", evs.Index)
		e.last = 0
	}
	if evs.Index <= e.last {
		e.mu.Unlock()
		return
	}
	touched := map[string]bool{}
	refresh := map[string]bool{}
	for i := range evs.Events {
		ev := &evs.Events[i]
		switch ev.Topic {
		case api.TopicAllocation:
			a, err := ev.Allocation()
			if err != nil || a == nil {
				e.log.Warn("event stream: bad allocation payload", "index", ev.Index, "err", err)
				continue
			}
			if w := e.watches[a.JobID]; w != nil {
				w.allocs[a.ID] = merge(w.allocs[a.ID], viewOfAlloc(a))
				touched[a.JobID] = true
			}
		case api.TopicJob:
			j, err := ev.Job()
			if err != nil || j == nil || j.ID == nil {
				continue
			}
			if w := e.watches[*j.ID]; w != nil {
				w.observeJob(j)
				touched[*j.ID] = true
			}
		case api.TopicNode:
			n, err := ev.Node()
			if err != nil || n == nil || n.Status != api.NodeStatusDown {
				continue
			}
			for id, w := range e.watches {
				for _, v := range w.allocs {
					if v.NodeID == n.ID && !v.terminal() {
						refresh[id] = true
					}
				}
			}
		}
	}
	e.last = evs.Index
	e.mu.Unlock()
	if err := e.cfg.Cursor.Save(evs.Index); err != nil {
		e.log.Warn("save event cursor", "index", evs.Index, "err", err)
	}
	for id := range touched {
		e.kick(id, refresh[id])
		delete(refresh, id)
	}
	for id := range refresh {
		e.kick(id, true)
	}
}

// observeJob notes a stop of the attempt's version (ours or an
// operator's, told apart by selfStop).
func (w *watch) observeJob(j *api.Job) {
	if attemptOf(j) != w.version {
		return
	}
	if j.Stop != nil && *j.Stop {
		w.jobStopped = true
	}
}

func (e *Engine) reconcileAll() {
	e.mu.Lock()
	var ids []string
	for id, w := range e.watches {
		if !w.ended {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.kick(id, true)
	}
}

// tick re-decides every open attempt (placement timeouts, actions that
// failed) and re-lists those that may have timed out.
func (e *Engine) tick() {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	type k struct {
		id      string
		refresh bool
	}
	var kicks []k
	for id, w := range e.watches {
		if w.ended || !w.registered {
			continue
		}
		kicks = append(kicks, k{id, !w.launched.IsZero() && now.Sub(w.launched) > e.cfg.PlacementTimeout})
	}
	e.mu.Unlock()
	for _, kk := range kicks {
		e.kick(kk.id, kk.refresh)
	}
}

type stepState struct {
	running, dirty, refresh bool
}

// kick asks for the job's attempt to be re-decided (after a fresh listing
// when refresh is set). One goroutine per job does it, so the event loop
// never waits on Nomad calls.
func (e *Engine) kick(jobID string, refresh bool) {
	e.mu.Lock()
	st := e.steps[jobID]
	if st == nil {
		st = &stepState{}
		e.steps[jobID] = st
	}
	st.dirty = true
	st.refresh = st.refresh || refresh
	if st.running {
		e.mu.Unlock()
		return
	}
	st.running = true
	e.stepWG.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.stepWG.Done()
		for {
			e.mu.Lock()
			if !st.dirty {
				st.running = false
				e.mu.Unlock()
				return
			}
			doRefresh := st.refresh
			st.dirty, st.refresh = false, false
			e.mu.Unlock()
			ctx, cancel := context.WithTimeout(e.base, 2*time.Minute)
			if doRefresh {
				e.refresh(ctx, jobID)
			}
			unlock := e.lockJob(jobID)
			e.stepLocked(ctx, jobID)
			unlock()
			cancel()
		}
	}()
}

// refresh lists the job and its allocations into the watch. A job not
// found counts as purged only if the watch it would end was registered
// before the job was read: a read that Launch's registration overtook (a
// stream connecting while an attempt launches re-lists every watch) says
// nothing.
func (e *Engine) refresh(ctx context.Context, jobID string) {
	e.mu.Lock()
	before := e.watches[jobID]
	registered := before != nil && before.registered
	e.mu.Unlock()
	job, _, err := e.client.Jobs().Info(jobID, qo(ctx))
	if err != nil && !isNotFound(err) {
		e.log.Warn("refresh: read job", "job", jobID, "err", err)
		return
	}
	var stubs []*api.AllocationListStub
	if job != nil {
		stubs, _, err = e.client.Jobs().Allocations(jobID, false, qo(ctx))
		if err != nil {
			e.log.Warn("refresh: list allocations", "job", jobID, "err", err)
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.watches[jobID]
	if w == nil {
		return
	}
	if job == nil {
		w.jobGone = w == before && registered
		return
	}
	w.observeJob(job)
	for _, s := range stubs {
		w.allocs[s.ID] = merge(w.allocs[s.ID], viewOfStub(s))
	}
}

// stepLocked decides and acts until nothing is left to do; the caller holds
// the job lock.
func (e *Engine) stepLocked(ctx context.Context, jobID string) {
	for range 8 {
		e.mu.Lock()
		w := e.watches[jobID]
		if w == nil {
			e.mu.Unlock()
			return
		}
		evs, act := w.decide(e.cfg.Clock.Now(), e.cfg.PlacementTimeout)
		e.enqueue(evs...)
		if w.ended || len(evs) > 0 {
			w.signal()
		}
		if next := w.next; next != nil {
			// Adopted: watch the replacement as the next attempt, and
			// decide it at once (its Placed follows the Preempted).
			w.next = nil
			e.watches[jobID] = next
			e.mu.Unlock()
			continue
		}
		e.mu.Unlock()
		if act.none() {
			return
		}
		if err := e.act(ctx, w, act); err != nil {
			e.log.Warn("attempt action failed; will retry", "job", jobID, "ref", w.ref.String(), "err", err)
			return
		}
	}
}

func (e *Engine) act(ctx context.Context, w *watch, act action) error {
	if act.adopt != "" {
		return e.recordAdoption(ctx, w, act.adopt)
	}
	if act.lookupNotice != "" {
		n, err := e.readNotice(ctx, act.lookupNotice)
		if err != nil {
			return err
		}
		e.mu.Lock()
		w.notices[act.lookupNotice] = n
		e.mu.Unlock()
		return nil
	}
	if act.lookupCapacity {
		refusal, err := e.readRefusal(ctx, w.class, w.launched)
		e.mu.Lock()
		w.capacityRead = e.cfg.Clock.Now()
		w.refusal = refusal
		e.mu.Unlock()
		return err
	}
	if err := e.deregister(ctx, w.jobID, w.ref.Attempt, act.deregister, w); err != nil {
		return err
	}
	return nil
}

// deregister stops the job without purging it (`nomad job status` keeps
// the history), after recording that skynomad did it and why.
func (e *Engine) deregister(ctx context.Context, jobID string, attempt int, reason stopReason, w *watch) error {
	e.mu.Lock()
	if w != nil {
		w.selfStop = reason
	}
	e.mu.Unlock()
	e.writeStopMarker(ctx, jobID, attempt, reason)
	_, _, err := e.client.Jobs().Deregister(jobID, false, wo(ctx))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("nomad: stop job %s: %w", jobID, err)
	}
	e.log.Info("stopped Nomad job", "job", jobID, "attempt", attempt, "reason", reason)
	if w != nil {
		e.mu.Lock()
		w.deregistered = true
		e.mu.Unlock()
	}
	return nil
}

func (e *Engine) writeStopMarker(ctx context.Context, jobID string, attempt int, reason stopReason) {
	v := &api.Variable{Path: naming.StopVariable(jobID), Items: api.VariableItems{
		"attempt": fmt.Sprint(attempt), "reason": string(reason),
		"time": e.cfg.Clock.Now().UTC().Format(time.RFC3339),
	}}
	if _, _, err := e.client.Variables().Create(v, wo(ctx)); err != nil {
		e.log.Warn("record stop marker", "job", jobID, "err", err)
	}
}

// readStopMarker returns the reason skynomad stopped the job's attempt,
// or "" if it did not.
func (e *Engine) readStopMarker(ctx context.Context, jobID string, attempt int) (stopReason, error) {
	v, _, err := e.client.Variables().Read(naming.StopVariable(jobID), qo(ctx))
	if errors.Is(err, api.ErrVariablePathNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("nomad: read stop marker of %s: %w", jobID, err)
	}
	if v.Items["attempt"] != fmt.Sprint(attempt) {
		return "", nil
	}
	return stopReason(v.Items["reason"]), nil
}

func (e *Engine) readNotice(ctx context.Context, allocID string) (*notice, error) {
	v, _, err := e.client.Variables().Read(naming.PreemptionVariable(allocID), qo(ctx))
	if errors.Is(err, api.ErrVariablePathNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nomad: read preemption notice of %s: %w", allocID, err)
	}
	n := &notice{
		NodeID: v.Items[naming.PreemptionNodeID], NodeName: v.Items[naming.PreemptionNodeName],
		Cloud: v.Items[naming.PreemptionCloud], Action: v.Items[naming.PreemptionAction],
	}
	n.NoticeTime, _ = time.Parse(time.RFC3339, v.Items[naming.PreemptionNoticeTime])
	n.Deadline, _ = time.Parse(time.RFC3339, v.Items[naming.PreemptionDeadline])
	return n, nil
}

// readRefusal returns the cloud's refusal of capacity for nodeClass that
// the autoscaler target plugin recorded at or after since, or "".
func (e *Engine) readRefusal(ctx context.Context, nodeClass string, since time.Time) (string, error) {
	q := qo(ctx)
	q.Namespace = naming.CapacityNamespace
	v, _, err := e.client.Variables().Read(naming.CapacityVariable(nodeClass), q)
	if errors.Is(err, api.ErrVariablePathNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("nomad: read capacity of %s: %w", nodeClass, err)
	}
	at, err := time.Parse(time.RFC3339Nano, v.Items[naming.CapacityTime])
	if err != nil || at.Before(since.Truncate(time.Second)) {
		return "", nil
	}
	return refusalText(v.Items), nil
}

// refusalText is how a recorded refusal reads in the job's log and queue:
// "aws refused capacity: InsufficientInstanceCapacity in us-east-1a: …".
func refusalText(items map[string]string) string {
	where := ""
	if z := items[naming.CapacityZone]; z != "" {
		where = " in " + z
	}
	return fmt.Sprintf("%s refused capacity (%s): %s%s: %s", items[naming.CapacityCloud],
		items[naming.CapacityKind], items[naming.CapacityCode], where, items[naming.CapacityMessage])
}
