package nomad

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// Nomad's alloc descriptions the engine reads (recorded in scenarios 5a-5c).
const (
	descLost      = "alloc is lost since its node is down"
	descMigrating = "alloc is being migrated"
)

// Task names of the rendered job.
const (
	taskSetup = naming.SetupTaskName
	taskRun   = naming.RunTaskName
)

// allocView is what the engine keeps of an allocation, from an event
// payload or from a list stub (which lacks DesiredTransition and
// PreviousAllocation; those stay as first seen).
type allocView struct {
	ID, Name, NodeID, NodeName        string
	TaskGroup                         string
	CreateIndex, ModifyIndex          uint64
	ClientStatus, DesiredStatus, Desc string
	Migrate                           bool
	Previous, Next                    string
	Tasks                             map[string]*api.TaskState
}

func viewOfAlloc(a *api.Allocation) *allocView {
	return &allocView{
		ID: a.ID, Name: a.Name, NodeID: a.NodeID, NodeName: a.NodeName, TaskGroup: a.TaskGroup,
		CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		ClientStatus: a.ClientStatus, DesiredStatus: a.DesiredStatus, Desc: a.DesiredDescription,
		Migrate:  a.DesiredTransition.Migrate != nil && *a.DesiredTransition.Migrate,
		Previous: a.PreviousAllocation, Next: a.NextAllocation, Tasks: a.TaskStates,
	}
}

func viewOfStub(a *api.AllocationListStub) *allocView {
	return &allocView{
		ID: a.ID, Name: a.Name, NodeID: a.NodeID, NodeName: a.NodeName, TaskGroup: a.TaskGroup,
		CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		ClientStatus: a.ClientStatus, DesiredStatus: a.DesiredStatus, Desc: a.DesiredDescription,
		Next: a.NextAllocation, Tasks: a.TaskStates,
	}
}

// merge keeps the newest view (by ModifyIndex) so an old event replayed
// after a listing never moves an alloc back.
func merge(old, v *allocView) *allocView {
	if old == nil {
		return v
	}
	if v.ModifyIndex < old.ModifyIndex {
		return old
	}
	v.Migrate = v.Migrate || old.Migrate
	if v.Previous == "" {
		v.Previous = old.Previous
	}
	return v
}

func (v *allocView) terminal() bool {
	switch v.ClientStatus {
	case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
		return true
	}
	return false
}

func (v *allocView) rank() int {
	i := strings.LastIndex(v.Name, "[")
	if i < 0 || !strings.HasSuffix(v.Name, "]") {
		return 0
	}
	n, _ := strconv.Atoi(v.Name[i+1 : len(v.Name)-1])
	return n
}

func (v *allocView) started(task string) bool {
	ts := v.Tasks[task]
	if ts == nil {
		return false
	}
	if !ts.StartedAt.IsZero() {
		return true
	}
	for _, ev := range ts.Events {
		if ev.Type == api.TaskStarted {
			return true
		}
	}
	return false
}

// progressing: the client has taken the alloc on (beyond "Received").
func (v *allocView) progressing() bool {
	if v.ClientStatus != api.AllocClientStatusPending {
		return true
	}
	for _, ts := range v.Tasks {
		for _, ev := range ts.Events {
			if ev.Type != api.TaskReceived {
				return true
			}
		}
	}
	return false
}

// stoppedForMigration: Allocations().Stop by the spot handler or an
// operator's `nomad alloc stop`, or a drain (5a, 5b).
func (v *allocView) stoppedForMigration() bool {
	return v.DesiredStatus == api.AllocDesiredStatusStop && (v.Migrate || v.Desc == descMigrating)
}

// preemption says why the alloc counts as preempted, or "".
func (v *allocView) preemption() string {
	switch {
	case v.ClientStatus == api.AllocClientStatusLost || v.Desc == descLost:
		return fmt.Sprintf("alloc lost: node %s is down", v.NodeName)
	case v.stoppedForMigration():
		return "alloc stopped: " + v.Desc
	case v.DesiredStatus == api.AllocDesiredStatusEvict:
		return "alloc evicted: " + v.Desc
	}
	if msg := v.workerGone(); msg != "" {
		return fmt.Sprintf("not started on %s: %s", v.NodeName, msg)
	}
	return ""
}

// workerGone is the task driver's refusal to start a job of a pool whose
// worker's alloc had left the node (a Driver Failure naming
// driver.WorkerGone), or "": the job never ran, and its worker's loss is
// the pool's, not the job's failure.
func (v *allocView) workerGone() string {
	if v.ClientStatus != api.AllocClientStatusFailed {
		return ""
	}
	for _, n := range sortedTasks(v.Tasks) {
		for _, ev := range v.Tasks[n].Events {
			if ev.Type != api.TaskDriverFailure {
				continue
			}
			for _, msg := range []string{ev.DisplayMessage, ev.DriverError} {
				if i := strings.Index(msg, driver.WorkerGone); i >= 0 {
					return msg[i:]
				}
			}
		}
	}
	return ""
}

// endedByItself: the alloc failed or completed while Nomad still wanted it
// to run (not stopped, not lost).
func (v *allocView) endedByItself() bool {
	return v.DesiredStatus == api.AllocDesiredStatusRun &&
		(v.ClientStatus == api.AllocClientStatusFailed || v.ClientStatus == api.AllocClientStatusComplete)
}

// ending says how a terminal alloc ended, for a reason.
func (v *allocView) ending() string {
	switch v.ClientStatus {
	case api.AllocClientStatusFailed:
		_, _, _, reason := v.failure()
		return reason
	case api.AllocClientStatusLost:
		return "lost on " + v.NodeName
	}
	return "completed on " + v.NodeName
}

// failure reads how a failed alloc failed: the failed task's phase and the
// exit code of its last Terminated event (scenarios 3 and 4).
func (v *allocView) failure() (phase engine.Phase, code int, finished time.Time, reason string) {
	name := ""
	for _, n := range []string{taskSetup, taskRun} {
		if ts := v.Tasks[n]; ts != nil && ts.Failed {
			name = n
			break
		}
	}
	if name == "" {
		for _, n := range sortedTasks(v.Tasks) {
			if v.Tasks[n].Failed {
				name = n
				break
			}
		}
	}
	if name == "" {
		// No task marked failed: blame the phase the alloc reached.
		name = taskRun
		if _, ok := v.Tasks[taskSetup]; ok && !v.started(taskRun) {
			name = taskSetup
		}
	}
	phase = engine.PhaseRun
	if name == taskSetup {
		phase = engine.PhaseSetup
	}
	ts := v.Tasks[name]
	code, detail := -1, "failed"
	if ts != nil {
		finished = ts.FinishedAt
		code, detail = exitOf(ts)
	}
	return phase, code, finished, fmt.Sprintf("%s %s on %s", name, detail, v.NodeName)
}

// exitOf returns the exit code of a task's last Terminated event (Details
// exit_code, 128+signal when killed by one) and a phrase for the reason. A
// task that never ran (driver or setup failure) has code -1.
func exitOf(ts *api.TaskState) (int, string) {
	for i := len(ts.Events) - 1; i >= 0; i-- {
		ev := ts.Events[i]
		if ev.Type != api.TaskTerminated {
			continue
		}
		code := ev.ExitCode
		if s, ok := ev.Details["exit_code"]; ok {
			if n, err := strconv.Atoi(s); err == nil {
				code = n
			}
		}
		sig, _ := strconv.Atoi(ev.Details["signal"])
		if code == 0 && sig != 0 {
			code = 128 + sig
		}
		detail := fmt.Sprintf("exited with code %d", code)
		if ev.Details["oom_killed"] == "true" {
			detail += " (OOM killed)"
		}
		return code, detail
	}
	for i := len(ts.Events) - 1; i >= 0; i-- {
		ev := ts.Events[i]
		switch ev.Type {
		case api.TaskDriverFailure, api.TaskSetupFailure, api.TaskArtifactDownloadFailed, api.TaskFailedValidation:
			msg := ev.DisplayMessage
			if msg == "" {
				msg = ev.Type
			}
			return -1, "could not start: " + msg
		}
	}
	return -1, "failed"
}

func sortedTasks(m map[string]*api.TaskState) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// notice is a spot handler's preemption record (Nomad Variable
// skynomad/preemptions/<allocID>).
type notice struct {
	NodeID, NodeName, Cloud, Action string
	NoticeTime, Deadline            time.Time
}

// stopReason says why the engine deregistered a job itself.
type stopReason string

const (
	stopRequested  stopReason = "stop"        // engine.Stop
	stopPreempted  stopReason = "preempted"   // Nomad's own replacement must not run
	stopFailed     stopReason = "failed"      // one node failed: end the others
	stopNoCapacity stopReason = "no_capacity" // not placed in time
	stopSuperseded stopReason = "superseded"  // a newer attempt is launched
	stopGroupDone  stopReason = "group_done"  // a job group's primary tasks succeeded
)

// watch is the engine's view of the current attempt of one Nomad job.
type watch struct {
	jobID string
	ref   engine.Ref
	count int
	// version is the sky.attempt of the job version the attempt runs in:
	// ref.Attempt, unless the attempt is Nomad's replacement of an earlier
	// one that the engine adopted; adopted is then that alloc's ID.
	version int
	adopted string
	// registered is set once the attempt's version exists; since is the
	// JobModifyIndex it was registered at. Allocs created at or after since
	// belong to this attempt: Nomad only places allocs of the current
	// version, and event payloads carry neither the job nor its version.
	registered bool
	since      uint64
	launched   time.Time
	allocs     map[string]*allocView

	jobStopped    bool // Stop seen on a version of this attempt
	jobGone       bool // the job was purged
	selfStop      stopReason
	deregistered  bool
	stopRequested bool
	noCapacity    bool
	// class is the node class of the attempt's offering (empty for a pool
	// job); while unplaced, its capacity Variable is read every
	// capacityEvery, and refusal holds a cloud's refusal recorded there
	// since launched.
	class         string
	capacityEvery time.Duration
	capacityRead  time.Time
	refusal       string
	preemptedBy   string
	preemptedNode string
	recorded      string             // the replacement whose adoption is persisted
	next          *watch             // the adopted replacement, to watch from now on
	notices       map[string]*notice // alloc → record (nil: looked, none)
	noticeSent    map[string]bool
	emitted       map[engine.EventKind]bool
	ended         bool
	changed       chan struct{}
	// roles are a job group's task groups (nil for a single task).
	roles map[string]groupRole
}

// groupRole is what a job group's task group says of its task.
type groupRole struct {
	primary bool
	delay   time.Duration
}

// rolesOf reads a job group's roles from its task groups' meta.
func rolesOf(job *api.Job) map[string]groupRole {
	if job == nil || job.Meta[naming.MetaGroup] == "" {
		return nil
	}
	roles := map[string]groupRole{}
	for _, tg := range job.TaskGroups {
		delay, _ := time.ParseDuration(tg.Meta[naming.MetaTerminationDelay])
		roles[deref(tg.Name)] = groupRole{primary: tg.Meta[naming.MetaPrimary] == "true", delay: delay}
	}
	return roles
}

// primariesDone reports whether every primary task's allocs completed,
// and when the auxiliary tasks still running are to be stopped: the last
// primary's end plus the longest delay among them.
func (w *watch) primariesDone(allocs []*allocView) (time.Time, bool) {
	var doneAt time.Time
	var delay time.Duration
	for _, v := range allocs {
		role := w.roles[v.TaskGroup]
		if !role.primary {
			if !v.terminal() {
				delay = max(delay, role.delay)
			}
			continue
		}
		if v.ClientStatus != api.AllocClientStatusComplete {
			return time.Time{}, false
		}
		if ts := v.Tasks[taskRun]; ts != nil && ts.FinishedAt.After(doneAt) {
			doneAt = ts.FinishedAt
		}
	}
	return doneAt.Add(delay), true
}

func newWatch(jobID string, ref engine.Ref, count int) *watch {
	return &watch{
		jobID: jobID, ref: ref, count: max(count, 1), version: ref.Attempt, allocs: map[string]*allocView{},
		notices: map[string]*notice{}, noticeSent: map[string]bool{}, emitted: map[engine.EventKind]bool{},
		changed: make(chan struct{}),
	}
}

func (w *watch) signal() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// originals are the attempt's own allocs: created for its version, not a
// replacement Nomad placed by itself (linked by Next/PreviousAllocation),
// the first Count by creation, ordered by rank. An adopted attempt has
// exactly its replacement alloc.
func (w *watch) originals() []*allocView {
	if !w.registered {
		return nil
	}
	if w.adopted != "" {
		if v := w.allocs[w.adopted]; v != nil {
			return []*allocView{v}
		}
		return nil
	}
	replacement := map[string]bool{}
	for _, v := range w.allocs {
		if v.Next != "" {
			replacement[v.Next] = true
		}
	}
	var out []*allocView
	for _, v := range w.allocs {
		if v.CreateIndex >= w.since && v.Previous == "" && !replacement[v.ID] {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].CreateIndex != out[k].CreateIndex {
			return out[i].CreateIndex < out[k].CreateIndex
		}
		return out[i].rank() < out[k].rank()
	})
	if len(out) > w.count {
		out = out[:w.count]
	}
	sort.Slice(out, func(i, k int) bool { return out[i].rank() < out[k].rank() })
	return out
}

// replacement returns the replacement Nomad placed by itself for the
// preempted alloc v, linked to it (5a, 5c-2), if the attempt may adopt it:
// a single-node attempt, and the replacement is on a node and still wanted.
// A multi-node attempt never adopts: one new node cannot rejoin peers that
// started together.
func (w *watch) replacement(v *allocView) *allocView {
	if w.count != 1 || v == nil {
		return nil
	}
	r := w.allocs[v.Next]
	if r == nil {
		for _, c := range w.allocs {
			if c.Previous == v.ID {
				r = c
				break
			}
		}
	}
	if r == nil || r.NodeID == "" || r.DesiredStatus != api.AllocDesiredStatusRun ||
		r.ClientStatus == api.AllocClientStatusLost {
		return nil
	}
	return r
}

// successor is the watch of the adopted replacement r: attempt ref+1 in
// the same job version.
func (w *watch) successor(r *allocView, now time.Time) *watch {
	ref := w.ref
	ref.Attempt++
	n := newWatch(w.jobID, ref, 1)
	n.version, n.since, n.registered = w.version, w.since, true
	n.adopted, n.launched = r.ID, now
	n.allocs = w.allocs
	return n
}

// action is one call the engine must make before deciding further.
type action struct {
	lookupNotice   string     // read the preemption Variable of this alloc
	lookupCapacity bool       // read the capacity Variable of the offering
	deregister     stopReason // stop the job, recording why
	adopt          string     // persist the adoption of this replacement alloc
}

func (a action) none() bool {
	return a.lookupNotice == "" && !a.lookupCapacity && a.deregister == "" && a.adopt == ""
}

// decide turns the attempt's state into the events not yet emitted and at
// most one action to take first. Endings wait until every one of the
// attempt's allocs is terminal, and a deregistration the ending depends on
// has succeeded, so the controller never relaunches while a copy runs.
func (w *watch) decide(now time.Time, timeout time.Duration) ([]engine.Event, action) {
	if w.ended || !w.registered {
		return nil, action{}
	}
	var evs []engine.Event
	emit := func(ev engine.Event) {
		if w.emitted[ev.Kind] {
			return
		}
		w.emitted[ev.Kind] = true
		ev.Ref, ev.Time = w.ref, now
		evs = append(evs, ev)
	}
	end := func(ev engine.Event) {
		emit(ev)
		w.ended = true
	}
	allocs := w.originals()
	all := func(f func(*allocView) bool) bool {
		for _, v := range allocs {
			if !f(v) {
				return false
			}
		}
		return true
	}
	placed := len(allocs) == w.count
	nodes := make([]string, 0, len(allocs))
	for _, v := range allocs {
		nodes = append(nodes, v.NodeName)
	}
	nodeList := strings.Join(nodes, ",")

	if placed {
		emit(engine.Event{Kind: engine.EventPlaced, Node: nodeList})
		hasSetup := all(func(v *allocView) bool { return v.Tasks[taskSetup] != nil })
		if hasSetup && all(func(v *allocView) bool { return v.started(taskSetup) }) {
			emit(engine.Event{Kind: engine.EventSetupStarted, Node: nodeList})
		}
		if all(func(v *allocView) bool { return v.started(taskRun) }) {
			emit(engine.Event{Kind: engine.EventRunning, Node: nodeList})
		}
	}
	allTerminal := all((*allocView).terminal)

	// Our own Stop wins over whatever else happens meanwhile.
	if w.stopRequested {
		if !w.deregistered {
			return evs, action{deregister: stopRequested}
		}
		// An adopted attempt has an alloc by definition: until its view
		// arrives, "every alloc terminal" says nothing.
		if allTerminal && (w.adopted == "" || len(allocs) > 0) {
			end(engine.Event{Kind: engine.EventStopped, Reason: "stopped by skynomad"})
		}
		return evs, action{}
	}

	// Preemption: a lost node, a stopped (migrating) or evicted alloc.
	var preempted *allocView
	for _, v := range allocs {
		if r := v.preemption(); r != "" {
			if w.preemptedBy == "" {
				w.preemptedBy, w.preemptedNode = r, v.NodeName
			}
			if preempted == nil {
				preempted = v
			}
		}
	}
	// An alloc that ended by itself while a spot handler's preemption
	// record exists was preempted, whatever its exit code: the handler's
	// SIGTERM ended it (the record is written before the signal).
	if w.preemptedBy == "" {
		for _, v := range allocs {
			if !v.endedByItself() {
				continue
			}
			n, looked := w.notices[v.ID]
			if !looked {
				return evs, action{lookupNotice: v.ID}
			}
			if n != nil {
				w.preemptedBy, w.preemptedNode = "alloc ended after a preemption notice: "+v.ending(), v.NodeName
				preempted = v
				break
			}
		}
	}
	if w.preemptedBy != "" {
		for _, v := range allocs {
			// Notices of the allocs stopped for migration, and of those
			// found with a record above.
			n, looked := w.notices[v.ID]
			if w.noticeSent[v.ID] || !(v.stoppedForMigration() || n != nil) {
				continue
			}
			if !looked {
				return evs, action{lookupNotice: v.ID}
			}
			w.noticeSent[v.ID] = true
			if n != nil {
				node := n.NodeName
				if node == "" {
					node = v.NodeName
				}
				evs = append(evs, engine.Event{
					Ref: w.ref, Kind: engine.EventPreemptionNotice, Time: now, Node: node, Deadline: n.Deadline,
					Reason: fmt.Sprintf("preemption notice at %s, deadline %s, node %s",
						n.NoticeTime.Format(time.RFC3339), n.Deadline.Format(time.RFC3339), node),
				})
			}
		}
		if !w.deregistered {
			if r := w.replacement(preempted); r != nil {
				// Nomad's replacement is the recovery. Its client holds it
				// until the preempted alloc is terminal (a stopped alloc is
				// killed within its kill timeout; a lost one already is), so
				// the ending waits for that like every other ending.
				if !allTerminal {
					return evs, action{}
				}
				if w.recorded != r.ID {
					return evs, action{adopt: r.ID}
				}
				next := w.successor(r, now)
				replacement := next.ref
				end(engine.Event{Kind: engine.EventPreempted, Node: w.preemptedNode, Reason: w.preemptedBy,
					Replacement: &replacement})
				w.next = next
				return evs, action{}
			}
			return evs, action{deregister: stopPreempted}
		}
		if allTerminal {
			end(engine.Event{Kind: engine.EventPreempted, Node: w.preemptedNode, Reason: w.preemptedBy})
		}
		return evs, action{}
	}

	// A job group whose primary tasks succeeded: the others are stopped
	// once their delay has passed, and the attempt succeeded.
	if w.roles != nil && placed {
		stopAt, done := w.primariesDone(allocs)
		if done || w.selfStop == stopGroupDone {
			switch {
			case allTerminal:
				end(engine.Event{Kind: engine.EventExited, Phase: engine.PhaseRun, Node: nodeList, Reason: "the primary tasks succeeded"})
			case !w.deregistered && !now.Before(stopAt):
				return evs, action{deregister: stopGroupDone}
			}
			return evs, action{}
		}
	}

	// Failure: setup before run, then the earliest.
	var failed []*allocView
	for _, v := range allocs {
		if v.ClientStatus == api.AllocClientStatusFailed {
			failed = append(failed, v)
		}
	}
	if len(failed) > 0 {
		if !allTerminal {
			if !w.deregistered {
				return evs, action{deregister: stopFailed}
			}
			return evs, action{}
		}
		type fail struct {
			phase    engine.Phase
			code     int
			finished time.Time
			reason   string
			node     string
		}
		var best *fail
		for _, v := range failed {
			p, c, t, r := v.failure()
			f := &fail{p, c, t, r, v.NodeName}
			if best == nil || (f.phase == engine.PhaseSetup && best.phase != engine.PhaseSetup) ||
				(f.phase == best.phase && f.finished.Before(best.finished)) {
				best = f
			}
		}
		end(engine.Event{Kind: engine.EventExited, Phase: best.phase, ExitCode: best.code, Node: best.node, Reason: best.reason})
		return evs, action{}
	}

	// An operator's `nomad job stop` (scenario 6) or purge.
	if w.jobGone || (w.jobStopped && w.selfStop == "") {
		if w.jobGone || allTerminal {
			end(engine.Event{Kind: engine.EventOperatorStopped, Node: nodeList, Reason: "Nomad job " + w.jobID + " was stopped outside skynomad"})
		}
		return evs, action{}
	}

	// Not placed in time, or the cloud refused the offering's capacity.
	if !w.noCapacity && w.selfStop == "" && !(placed && all((*allocView).progressing)) && !w.launched.IsZero() {
		switch {
		case w.refusal != "" && !placed || now.Sub(w.launched) > timeout:
			w.noCapacity = true
		case w.class != "" && !placed && now.Sub(w.capacityRead) >= w.capacityEvery:
			return evs, action{lookupCapacity: true}
		}
	}
	if w.noCapacity {
		if !w.deregistered {
			return evs, action{deregister: stopNoCapacity}
		}
		if allTerminal {
			reason := fmt.Sprintf("not placed within %s", timeout)
			if w.refusal != "" {
				reason = w.refusal
			}
			end(engine.Event{Kind: engine.EventNoCapacity, Reason: reason})
		}
		return evs, action{}
	}

	// Success: every node complete, every task 0, nothing stopped it.
	if placed && all(func(v *allocView) bool {
		return v.ClientStatus == api.AllocClientStatusComplete && v.DesiredStatus == api.AllocDesiredStatusRun
	}) {
		end(engine.Event{Kind: engine.EventExited, Phase: engine.PhaseRun, ExitCode: 0, Node: nodeList, Reason: "all tasks completed"})
	}
	return evs, action{}
}
