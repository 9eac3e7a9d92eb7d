package nomadfake

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Nomad's own strings, as recorded.
const (
	descLost      = "alloc is lost since its node is down"
	descMigrating = "alloc is being migrated"
	descNotNeeded = "alloc not needed due to job update"
	// descUpdating is what an alloc of an older job version gets when a new
	// version replaces it while it runs. Beyond the recordings (scenario 8
	// re-registered a finished job only); it is Nomad's string for a
	// destructive update.
	descUpdating = "alloc is being updated due to job update"
)

type node struct {
	n *api.Node
}

type job struct {
	id          string
	versions    []*api.Job // index = version
	specs       []string   // what was submitted for each version, canonical JSON
	status      string
	createIndex uint64
	modifyIndex uint64
	blocked     string // ID of the blocked eval, "" if none
	queued      map[string]int
	evals       []string
}

func (j *job) cur() *api.Job { return j.versions[len(j.versions)-1] }

type alloc struct {
	a       *api.Allocation // Job is nil, as in event payloads
	version uint64          // the job version it runs (api.Allocation has no field for it)
	procs   bool            // the task processes are alive on the node
	started bool            // some task was ever started
	killing bool            // the client has begun killing it
	logs    map[string][]byte
	signals []Signal
}

// Signal is one signal sent to an allocation's task through the client API.
type Signal struct {
	Task   string
	Signal string
}

func terminal(status string) bool {
	return status == api.AllocClientStatusComplete || status == api.AllocClientStatusFailed ||
		status == api.AllocClientStatusLost
}

// frame is one line of the event stream: every event of one raft index.
type frame struct {
	Index  uint64
	Events []*wireEvent
}

type wireEvent struct {
	FilterKeys []string
	Index      uint64
	Key        string
	Namespace  string
	Payload    map[string]json.RawMessage
	Topic      string
	Type       string
}

// txn gathers the changes of one raft index; commit publishes them as one
// event-stream frame.
type txn struct {
	index  uint64
	now    time.Time
	evals  []touch
	nodes  []touch
	allocs []touch
	jobs   []touch
}

type touch struct {
	id, typ string
	force   bool
}

func addTouch(list []touch, id, typ string, force bool) []touch {
	for i := range list {
		if list[i].id == id {
			list[i].force = list[i].force || force
			return list
		}
	}
	return append(list, touch{id: id, typ: typ, force: force})
}

func (t *txn) alloc(a *alloc, typ string) {
	a.a.ModifyIndex = t.index
	a.a.ModifyTime = t.now.UnixNano()
	t.allocs = addTouch(t.allocs, a.a.ID, typ, true)
	// A job's status may follow from its allocs.
	t.jobs = addTouch(t.jobs, a.a.JobID, typ, false)
}

func (t *txn) eval(e *api.Evaluation, typ string) {
	e.ModifyIndex = t.index
	e.ModifyTime = t.now.UnixNano()
	t.evals = addTouch(t.evals, e.ID, typ, true)
}

func (t *txn) node(n *node, typ string) {
	n.n.ModifyIndex = t.index
	t.nodes = addTouch(t.nodes, n.n.ID, typ, true)
}

// job records a change of the job itself (force) or a chance that its
// status changed (published only if it did).
func (t *txn) job(j *job, typ string, force bool) {
	if force {
		j.modifyIndex = t.index
	}
	t.jobs = addTouch(t.jobs, j.id, typ, force)
}

func (s *Server) begin() *txn {
	s.index++
	return &txn{index: s.index, now: s.now()}
}

func (s *Server) now() time.Time { return s.opts.Now() }

// commit publishes t as one frame and records the running high-water marks.
func (s *Server) commit(t *txn) {
	f := &frame{Index: t.index}
	add := func(topic, typ, key, ns string, filter []string, payloadKey string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("nomadfake: marshal %s payload: %v", topic, err))
		}
		f.Events = append(f.Events, &wireEvent{
			FilterKeys: filter, Index: t.index, Key: key, Namespace: ns,
			Payload: map[string]json.RawMessage{payloadKey: b}, Topic: topic, Type: typ,
		})
	}
	for _, tc := range t.evals {
		e := s.evals[tc.id]
		add("Evaluation", tc.typ, e.ID, e.Namespace, []string{e.JobID, e.DeploymentID}, "Evaluation", e)
	}
	for _, tc := range t.nodes {
		n := s.nodeByID(tc.id)
		add("Node", tc.typ, n.n.ID, "", nil, "Node", n.n)
	}
	for _, tc := range t.allocs {
		a := s.allocs[tc.id]
		add("Allocation", tc.typ, a.a.ID, a.a.Namespace, []string{a.a.JobID, a.a.DeploymentID}, "Allocation", a.a)
	}
	for _, tc := range t.jobs {
		j := s.jobs[tc.id]
		if j == nil {
			continue
		}
		status := s.jobStatus(j)
		if status == j.status && !tc.force {
			continue
		}
		if status != j.status {
			j.status = status
			j.modifyIndex = t.index
		}
		jb := s.jobView(j, j.cur())
		add("Job", tc.typ, j.id, deref(jb.Namespace), nil, "Job", jb)
	}
	if len(f.Events) > 0 {
		s.publish(f)
	}
	for id, j := range s.jobs {
		n, alive := 0, 0
		for _, a := range s.jobAllocs(j) {
			if a.a.ClientStatus == api.AllocClientStatusRunning && a.a.DesiredStatus == api.AllocDesiredStatusRun {
				n++
			}
			if a.procs {
				alive++
			}
		}
		s.maxRunning[id] = max(s.maxRunning[id], n)
		s.maxAlive[id] = max(s.maxAlive[id], alive)
	}
	s.broadcast()
}

// jobStatus follows what the recordings show: dead once stopped, pending
// while a blocked eval waits or before anything was placed for the current
// version, running while an alloc is not terminal, dead after.
func (s *Server) jobStatus(j *job) string {
	if deref(j.cur().Stop) {
		return "dead"
	}
	if j.blocked != "" {
		return "pending"
	}
	allocs := s.jobAllocs(j)
	current := false
	for _, a := range allocs {
		if !terminal(a.a.ClientStatus) {
			return "running"
		}
		current = current || a.version == deref(j.cur().Version)
	}
	if !current {
		return "pending" // registered, nothing placed for this version yet
	}
	return "dead"
}

// jobView is the job as served: the stored version with its status.
func (s *Server) jobView(j *job, v *api.Job) *api.Job {
	out := *v
	if v == j.cur() {
		out.Status = new(j.status)
		out.ModifyIndex = new(j.modifyIndex)
	}
	return &out
}

func (s *Server) jobAllocs(j *job) []*alloc {
	var out []*alloc
	for _, id := range s.allocOrder {
		if a := s.allocs[id]; a.a.JobID == j.id {
			out = append(out, a)
		}
	}
	return out
}

func (s *Server) nodeByID(id string) *node {
	for _, n := range s.nodes {
		if n.n.ID == id {
			return n
		}
	}
	return nil
}

// newID returns a UUID-shaped ID, deterministic per server.
func (s *Server) newID() string {
	s.ids++
	h := sha256.Sum256([]byte(fmt.Sprintf("nomadfake-%d", s.ids)))
	x := fmt.Sprintf("%x", h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func (s *Server) newEval(t *txn, j *job, trigger, nodeID string) *api.Evaluation {
	jb := j.cur()
	e := &api.Evaluation{
		ID: s.newID(), Priority: derefInt(jb.Priority, 50), Type: deref(jb.Type), TriggeredBy: trigger,
		Namespace: deref(jb.Namespace), JobID: j.id, JobModifyIndex: deref(jb.JobModifyIndex),
		NodeID: nodeID, Status: "complete", QueuedAllocations: map[string]int{},
		CreateIndex: t.index, CreateTime: t.now.UnixNano(), SnapshotIndex: t.index,
	}
	s.evals[e.ID] = e
	s.evalOrder = append(s.evalOrder, e.ID)
	j.evals = append(j.evals, e.ID)
	t.eval(e, "EvaluationUpdated")
	return e
}

// schedule is the fake's scheduler for one evaluation of job j: it stops
// what the job's current version no longer wants and places what it lacks.
// replaced lists allocs lost or stopped for migration in the same plan; a
// placement made for one of them is linked to it (NextAllocation /
// PreviousAllocation), as in scenarios 5a and 5c-2. Placements made later
// by a blocked eval are not linked (scenario 5c).
func (s *Server) schedule(t *txn, j *job, e *api.Evaluation, replaced []*alloc) {
	cur := j.cur()
	version := deref(cur.Version)
	if deref(cur.Stop) {
		for _, a := range s.jobAllocs(j) {
			if !terminal(a.a.ClientStatus) && a.a.DesiredStatus == api.AllocDesiredStatusRun {
				s.desireStop(t, a, descNotNeeded, false)
			}
		}
		s.setQueued(t, j, e, map[string]int{})
		return
	}
	for _, a := range s.jobAllocs(j) {
		if a.version != version && !terminal(a.a.ClientStatus) && a.a.DesiredStatus == api.AllocDesiredStatusRun {
			s.desireStop(t, a, descUpdating, false)
		}
	}
	queued := map[string]int{}
	for _, tg := range cur.TaskGroups {
		group := deref(tg.Name)
		used := map[int]bool{}
		have := 0
		for _, a := range s.jobAllocs(j) {
			if a.version != version || a.a.TaskGroup != group {
				continue
			}
			// A batch alloc that ended complete counts as done even when it
			// was stopped (scenario 5b: no replacement once the stopped
			// alloc finished); a lost one does not.
			if (a.a.DesiredStatus == api.AllocDesiredStatusRun && a.a.ClientStatus != api.AllocClientStatusLost) ||
				a.a.ClientStatus == api.AllocClientStatusComplete {
				have++
				used[allocIndex(a.a.Name)] = true
			}
		}
		need := derefInt(tg.Count, 1) - have
		for i := 0; i < need; i++ {
			var prev *alloc
			for k, r := range replaced {
				if r.version == version && r.a.TaskGroup == group && r.a.NextAllocation == "" {
					prev = r
					replaced = slices.Delete(slices.Clone(replaced), k, k+1)
					break
				}
			}
			idx := 0
			if prev != nil {
				idx = allocIndex(prev.a.Name)
			} else {
				for used[idx] {
					idx++
				}
			}
			n := s.pickNode(j, cur, tg)
			if n == nil {
				queued[group]++
				continue
			}
			used[idx] = true
			s.place(t, j, cur, tg, n, idx, e, prev)
		}
	}
	s.setQueued(t, j, e, queued)
}

// setQueued records what e could not place: a blocked eval waits for it.
func (s *Server) setQueued(t *txn, j *job, e *api.Evaluation, queued map[string]int) {
	total := 0
	for g, n := range queued {
		total += n
		if e != nil {
			e.QueuedAllocations[g] = n
			if e.FailedTGAllocs == nil {
				e.FailedTGAllocs = map[string]*api.AllocationMetric{}
			}
			e.FailedTGAllocs[g] = &api.AllocationMetric{NodesAvailable: map[string]int{}, CoalescedFailures: n - 1}
		}
	}
	j.queued = queued
	switch {
	case total > 0 && j.blocked == "":
		b := s.newEval(t, j, "queued-allocs", "")
		b.Status = "blocked"
		b.QueuedAllocations = queued
		if e != nil {
			b.PreviousEval = e.ID
			e.BlockedEval = b.ID
			t.eval(e, "EvaluationUpdated")
		}
		j.blocked = b.ID
	case total == 0 && j.blocked != "":
		b := s.evals[j.blocked]
		b.Status = "complete"
		b.QueuedAllocations = queued
		t.eval(b, "EvaluationUpdated")
		j.blocked = ""
	}
	t.job(j, "PlanResult", false)
}

func allocIndex(name string) int {
	i := strings.LastIndex(name, "[")
	if i < 0 || !strings.HasSuffix(name, "]") {
		return 0
	}
	n, _ := strconv.Atoi(name[i+1 : len(name)-1])
	return n
}

func (s *Server) place(t *txn, j *job, v *api.Job, tg *api.TaskGroup, n *node, idx int, e *api.Evaluation, prev *alloc) *alloc {
	group := deref(tg.Name)
	cpu, mem := 0, 0
	for _, task := range tg.Tasks {
		if task.Resources != nil {
			cpu += derefInt(task.Resources.CPU, 100)
			mem += derefInt(task.Resources.MemoryMB, 300)
		}
	}
	a := &alloc{a: &api.Allocation{
		ID: s.newID(), Namespace: deref(v.Namespace), Name: fmt.Sprintf("%s.%s[%d]", j.id, group, idx),
		NodeID: n.n.ID, NodeName: n.n.Name, JobID: j.id, TaskGroup: group,
		Resources:     &api.Resources{CPU: new(cpu), MemoryMB: new(mem)},
		DesiredStatus: api.AllocDesiredStatusRun, ClientStatus: api.AllocClientStatusPending,
		Metrics: &api.AllocationMetric{
			NodesEvaluated: len(s.nodes), NodesInPool: len(s.nodes),
			NodesAvailable: map[string]int{n.n.Datacenter: len(s.nodes)},
		},
		DesiredTransition: api.DesiredTransition{},
		CreateIndex:       t.index, AllocModifyIndex: t.index, CreateTime: t.now.UnixNano(),
	}, version: deref(v.Version), logs: map[string][]byte{}}
	if e != nil {
		a.a.EvalID = e.ID
	}
	if prev != nil {
		a.a.PreviousAllocation = prev.a.ID
		prev.a.NextAllocation = a.a.ID
		t.alloc(prev, "PlanResult")
	}
	s.allocs[a.a.ID] = a
	s.allocOrder = append(s.allocOrder, a.a.ID)
	t.alloc(a, "PlanResult")
	return a
}

// desireStop marks an alloc for stopping; the client kills it later (see
// settle).
func (s *Server) desireStop(t *txn, a *alloc, desc string, migrate bool) {
	a.a.DesiredStatus = api.AllocDesiredStatusStop
	a.a.DesiredDescription = desc
	if migrate {
		a.a.DesiredTransition.Migrate = new(true)
	}
	a.a.AllocModifyIndex = t.index
	t.alloc(a, "PlanResult")
}

// pickNode returns a ready, eligible node that satisfies the job's pool,
// datacenters, drivers and constraints, preferring the least loaded one.
// Resources are not modelled (beyond the recordings: a node fits any number
// of allocs).
func (s *Server) pickNode(j *job, v *api.Job, tg *api.TaskGroup) *node {
	var best *node
	bestLoad := 0
	for _, n := range s.nodes {
		if !s.feasible(n, j, v, tg) {
			continue
		}
		load := 0
		for _, a := range s.allocs {
			if a.a.NodeID == n.n.ID && !terminal(a.a.ClientStatus) && a.a.DesiredStatus == api.AllocDesiredStatusRun {
				load++
			}
		}
		if best == nil || load < bestLoad {
			best, bestLoad = n, load
		}
	}
	return best
}

func (s *Server) feasible(n *node, j *job, v *api.Job, tg *api.TaskGroup) bool {
	if n.n.Status != api.NodeStatusReady || n.n.SchedulingEligibility != api.NodeSchedulingEligible {
		return false
	}
	pool := deref(v.NodePool)
	if pool == "" {
		pool = "default"
	}
	if pool != "all" && pool != n.n.NodePool {
		return false
	}
	if len(v.Datacenters) > 0 && !slices.ContainsFunc(v.Datacenters, func(dc string) bool {
		ok, _ := matchGlob(dc, n.n.Datacenter)
		return ok
	}) {
		return false
	}
	cons := append(slices.Clone(v.Constraints), tg.Constraints...)
	for _, task := range tg.Tasks {
		if _, ok := n.n.Attributes["driver."+task.Driver]; !ok {
			return false
		}
		cons = append(cons, task.Constraints...)
	}
	for _, c := range cons {
		if !s.constraintOK(c, n, j) {
			return false
		}
	}
	return true
}

func matchGlob(pattern, s string) (bool, error) {
	if pattern == "*" {
		return true, nil
	}
	re, err := regexp.Compile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$")
	if err != nil {
		return false, err
	}
	return re.MatchString(s), nil
}

// interpolate resolves the node targets Nomad offers in constraints.
func interpolate(target string, n *api.Node) (string, bool) {
	if !strings.HasPrefix(target, "${") || !strings.HasSuffix(target, "}") {
		return target, true
	}
	key := target[2 : len(target)-1]
	switch {
	case key == "node.class":
		return n.NodeClass, true
	case key == "node.datacenter":
		return n.Datacenter, true
	case key == "node.pool":
		return n.NodePool, true
	case key == "node.unique.name":
		return n.Name, true
	case key == "node.unique.id":
		return n.ID, true
	case strings.HasPrefix(key, "meta."):
		v, ok := n.Meta[strings.TrimPrefix(key, "meta.")]
		return v, ok
	case strings.HasPrefix(key, "attr."):
		v, ok := n.Attributes[strings.TrimPrefix(key, "attr.")]
		return v, ok
	}
	return "", false
}

// constraintOK evaluates the operands skynomad uses. Version and numeric
// comparisons are beyond the fake and always hold.
func (s *Server) constraintOK(c *api.Constraint, n *node, j *job) bool {
	if c.Operand == "distinct_hosts" {
		for _, a := range s.jobAllocs(j) {
			if a.a.NodeID == n.n.ID && !terminal(a.a.ClientStatus) && a.a.DesiredStatus == api.AllocDesiredStatusRun {
				return false
			}
		}
		return true
	}
	l, lok := interpolate(c.LTarget, n.n)
	r, _ := interpolate(c.RTarget, n.n)
	switch c.Operand {
	case "", "=", "==", "is":
		return lok && l == r
	case "!=", "not":
		return !lok || l != r
	case "is_set":
		return lok
	case "is_not_set":
		return !lok
	case "regexp":
		re, err := regexp.Compile(r)
		return err == nil && lok && re.MatchString(l)
	case "set_contains", "set_contains_all":
		have := splitSet(l)
		for want := range splitSet(r) {
			if !have[want] {
				return false
			}
		}
		return lok
	case "set_contains_any":
		have := splitSet(l)
		for want := range splitSet(r) {
			if have[want] {
				return true
			}
		}
		return false
	}
	return true
}

func splitSet(s string) map[string]bool {
	out := map[string]bool{}
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out[p] = true
		}
	}
	return out
}

// --- the client side of an alloc ---

func (s *Server) allocJob(a *alloc) *api.Job {
	j := s.jobs[a.a.JobID]
	if j == nil || int(a.version) >= len(j.versions) {
		return nil
	}
	return j.versions[a.version]
}

func (s *Server) allocTasks(a *alloc) []*api.Task {
	jb := s.allocJob(a)
	if jb == nil {
		return nil
	}
	for _, tg := range jb.TaskGroups {
		if deref(tg.Name) == a.a.TaskGroup {
			return tg.Tasks
		}
	}
	return nil
}

func prestart(t *api.Task) bool {
	return t.Lifecycle != nil && t.Lifecycle.Hook == api.TaskLifecycleHookPrestart && !t.Lifecycle.Sidecar
}

func (s *Server) addEvent(t *txn, ts *api.TaskState, typ string, details map[string]string) *api.TaskEvent {
	ev := s.tpl.event(typ, t.now.UnixNano(), details)
	ts.Events = append(ts.Events, ev)
	return ev
}

// receive is the client accepting a placed alloc: every task gets Received.
func (s *Server) receive(t *txn, a *alloc) {
	if a.a.TaskStates != nil {
		return
	}
	a.a.TaskStates = map[string]*api.TaskState{}
	for _, task := range s.allocTasks(a) {
		ts := &api.TaskState{State: "pending"}
		s.addEvent(t, ts, api.TaskReceived, nil)
		a.a.TaskStates[task.Name] = ts
	}
}

func (s *Server) startTask(t *txn, a *alloc, name string) {
	ts := a.a.TaskStates[name]
	s.addEvent(t, ts, api.TaskSetup, nil)
	s.addEvent(t, ts, api.TaskStarted, nil)
	ts.State = "running"
	ts.StartedAt = t.now.UTC()
	a.started, a.procs = true, true
	a.a.ClientStatus = api.AllocClientStatusRunning
	a.a.ClientDescription = "Tasks are running"
}

// startNext starts the prestart tasks, or the main tasks once every
// prestart task has exited 0. It reports whether something started.
func (s *Server) startNext(t *txn, a *alloc) bool {
	s.receive(t, a)
	var pre, main []*api.Task
	for _, task := range s.allocTasks(a) {
		if prestart(task) {
			pre = append(pre, task)
		} else {
			main = append(main, task)
		}
	}
	stage := main
	for _, task := range pre {
		if a.a.TaskStates[task.Name].State != "dead" {
			stage = pre
			break
		}
	}
	started := false
	for _, task := range stage {
		if a.a.TaskStates[task.Name].State == "pending" {
			s.startTask(t, a, task.Name)
			started = true
		}
	}
	return started
}

func terminatedDetails(code, signal int) map[string]string {
	return map[string]string{"exit_code": strconv.Itoa(code), "signal": strconv.Itoa(signal), "oom_killed": "false"}
}

func (s *Server) terminate(t *txn, ts *api.TaskState, code, signal int) {
	ev := s.addEvent(t, ts, api.TaskTerminated, terminatedDetails(code, signal))
	ev.ExitCode, ev.Signal = code, signal
	ev.DisplayMessage = fmt.Sprintf("Exit Code: %d", code)
	if signal != 0 {
		ev.DisplayMessage += fmt.Sprintf(", Signal: %d", signal)
	}
	ts.State = "dead"
	ts.FinishedAt = t.now.UTC()
}

// exitTask ends a running task with code and moves the alloc on: the next
// lifecycle stage, a failed alloc (restart attempts 0, as in scenarios 3
// and 4) or a complete one.
func (s *Server) exitTask(t *txn, a *alloc, name string, code int) error {
	ts := a.a.TaskStates[name]
	if ts == nil || ts.State != "running" {
		return fmt.Errorf("nomadfake: task %q of alloc %s is not running", name, a.a.ID)
	}
	s.terminate(t, ts, code, 0)
	var task *api.Task
	for _, tk := range s.allocTasks(a) {
		if tk.Name == name {
			task = tk
		}
	}
	if code != 0 {
		ts.Failed = true
		s.addEvent(t, ts, api.TaskNotRestarting, nil)
		if len(a.a.TaskStates) > 1 {
			s.addEvent(t, ts, api.TaskKilling, nil)
		}
		for _, other := range sortedKeys(a.a.TaskStates) {
			ots := a.a.TaskStates[other]
			switch ots.State {
			case "pending":
				s.addEvent(t, ots, api.TaskSiblingFailed, map[string]string{"failed_sibling": name}).FailedSibling = name
				s.addEvent(t, ots, api.TaskKilling, nil)
				ots.State, ots.FinishedAt = "dead", t.now.UTC()
			case "running":
				// Beyond the recordings: a running sibling of a failed task.
				s.addEvent(t, ots, api.TaskSiblingFailed, map[string]string{"failed_sibling": name}).FailedSibling = name
				s.addEvent(t, ots, api.TaskKilling, nil)
				s.terminate(t, ots, 137, 9)
				s.addEvent(t, ots, api.TaskKilled, nil)
			}
		}
		a.a.ClientStatus = api.AllocClientStatusFailed
		a.a.ClientDescription = "Failed tasks"
		a.procs = false
		t.alloc(a, "AllocationUpdated")
		return nil
	}
	if task != nil && prestart(task) {
		s.startNext(t, a)
	}
	allDead := true
	for _, tk := range s.allocTasks(a) {
		if !prestart(tk) && a.a.TaskStates[tk.Name].State != "dead" {
			allDead = false
		}
	}
	if allDead {
		a.a.ClientStatus = api.AllocClientStatusComplete
		a.a.ClientDescription = "All tasks have completed"
		a.procs = false
	}
	t.alloc(a, "AllocationUpdated")
	return nil
}

// beginKill is the client receiving a stop: running tasks get Killing.
func (s *Server) beginKill(t *txn, a *alloc) {
	a.killing = true
	for _, ts := range a.a.TaskStates {
		if ts.State == "running" {
			s.addEvent(t, ts, api.TaskKilling, nil)
		}
	}
	t.alloc(a, "AllocationUpdated")
}

// finishKill ends a killed alloc as the recordings show: Terminated with
// 137 / signal 9, Killed, ClientStatus complete.
func (s *Server) finishKill(t *txn, a *alloc) {
	for _, ts := range a.a.TaskStates {
		switch ts.State {
		case "running":
			s.terminate(t, ts, 137, 9)
			s.addEvent(t, ts, api.TaskKilled, nil)
		case "pending":
			// Beyond the recordings: a task stopped before it started.
			ts.State, ts.FinishedAt = "dead", t.now.UTC()
		}
	}
	a.a.ClientStatus = api.AllocClientStatusComplete
	a.a.ClientDescription = "All tasks have completed"
	a.procs, a.killing = false, false
	t.alloc(a, "AllocationUpdated")
}

// settle plays what clients and the scheduler do next on their own: allocs
// that should stop and sit on a ready node are killed (unless ManualKill),
// and blocked evals are re-run once allocs end or nodes come back.
func (s *Server) settle() {
	for range 100 { // bounded: every round strictly ends or starts killing allocs
		progressed := false
		for _, id := range s.allocOrder {
			a := s.allocs[id]
			n := s.nodeByID(a.a.NodeID)
			if a.a.DesiredStatus == api.AllocDesiredStatusRun || terminal(a.a.ClientStatus) ||
				n == nil || n.n.Status != api.NodeStatusReady {
				continue
			}
			if !a.killing && a.started {
				t := s.begin()
				s.beginKill(t, a)
				s.commit(t)
				progressed = true
			}
			if !s.opts.ManualKill || !a.started {
				t := s.begin()
				s.finishKill(t, a)
				s.commit(t)
				progressed = true
			}
		}
		if s.rerunBlocked() {
			progressed = true
		}
		if !progressed {
			return
		}
	}
}

// rerunBlocked re-evaluates every blocked eval; it reports whether any
// placed something or resolved.
func (s *Server) rerunBlocked() bool {
	changed := false
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		if j.blocked == "" {
			continue
		}
		t := s.begin()
		s.schedule(t, j, s.evals[j.blocked], nil)
		if len(t.allocs) > 0 || len(t.evals) > 0 {
			changed = true
			s.commit(t)
		} else {
			// Nothing placed and still blocked: no frame, as a blocked eval
			// that stays blocked writes nothing.
			s.index--
		}
	}
	return changed
}

// summary counts allocs per task group as GET /v1/job/<id>/summary does.
func (s *Server) summary(j *job) *api.JobSummary {
	sum := &api.JobSummary{JobID: j.id, Namespace: deref(j.cur().Namespace), Summary: map[string]api.TaskGroupSummary{},
		Children: &api.JobChildrenSummary{}, CreateIndex: j.createIndex, ModifyIndex: s.index}
	for _, tg := range j.cur().TaskGroups {
		sum.Summary[deref(tg.Name)] = api.TaskGroupSummary{Queued: j.queued[deref(tg.Name)]}
	}
	for _, a := range s.jobAllocs(j) {
		g := sum.Summary[a.a.TaskGroup]
		switch a.a.ClientStatus {
		case api.AllocClientStatusPending:
			g.Starting++
		case api.AllocClientStatusRunning:
			g.Running++
		case api.AllocClientStatusComplete:
			g.Complete++
		case api.AllocClientStatusFailed:
			g.Failed++
		case api.AllocClientStatusLost:
			g.Lost++
		case api.AllocClientStatusUnknown:
			g.Unknown++
		}
		sum.Summary[a.a.TaskGroup] = g
	}
	return sum
}

// spec is the canonical form of a submitted job used to tell an identical
// re-registration (scenario 8b: no new version) from a changed one.
func spec(jb *api.Job) string {
	c := *jb
	c.Status, c.StatusDescription, c.Stable = nil, nil, nil
	c.Version, c.SubmitTime, c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = nil, nil, nil, nil, nil
	if c.Stop == nil {
		c.Stop = new(false)
	}
	b, _ := json.Marshal(&c)
	return string(b)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefInt(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
