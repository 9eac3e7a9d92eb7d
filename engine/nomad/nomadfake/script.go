package nomadfake

import (
	"fmt"
	"maps"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// NodeSpec describes a client node to add.
type NodeSpec struct {
	Name       string
	Class      string
	Pool       string // "default" if empty
	Datacenter string // "dc1" if empty
	Meta       map[string]string
	Attributes map[string]string
	// Drivers enabled on the node; skypilot, raw_exec, exec and docker if empty
	// (the recorded client had no docker: beyond the recordings).
	Drivers []string
	// Ineligible adds the node with scheduling eligibility off.
	Ineligible bool
}

// AddNode registers a ready client node shaped like the recorded one
// (01-node.json) and returns its ID.
func (s *Server) AddNode(spec NodeSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.tpl.node // shallow copy; maps are replaced below
	n.ID = s.newID()
	n.Name = spec.Name
	if n.Name == "" {
		n.Name = fmt.Sprintf("client-%d", len(s.nodes)+1)
	}
	n.NodeClass = spec.Class
	n.NodePool = orDefault(spec.Pool, "default")
	n.Datacenter = orDefault(spec.Datacenter, "dc1")
	n.Attributes = maps.Clone(s.tpl.node.Attributes)
	for k := range n.Attributes {
		if len(k) > 7 && k[:7] == "driver." {
			delete(n.Attributes, k)
		}
	}
	drivers := spec.Drivers
	if len(drivers) == 0 {
		drivers = []string{"skypilot", "raw_exec", "exec", "docker"}
	}
	for _, d := range drivers {
		n.Attributes["driver."+d] = "1"
	}
	n.Attributes["unique.hostname"] = n.Name
	maps.Copy(n.Attributes, spec.Attributes)
	n.Meta = map[string]string{}
	maps.Copy(n.Meta, spec.Meta)
	n.Status = api.NodeStatusReady
	n.SchedulingEligibility = api.NodeSchedulingEligible
	if spec.Ineligible {
		n.SchedulingEligibility = api.NodeSchedulingIneligible
	}
	n.Events = nil
	t := s.begin()
	n.CreateIndex = t.index
	nd := &node{n: &n}
	s.nodes = append(s.nodes, nd)
	t.node(nd, "NodeRegistration")
	s.commit(t)
	s.rerunBlocked()
	s.settle()
	return n.ID
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// NodeDown is a client that stopped heartbeating (kill -9, scenario 5c):
// the node goes down and its allocs lost ("alloc is lost since its node is
// down"), their processes still running. Nomad places replacements by
// itself: at once and linked if another node fits (5c-2), else through a
// blocked eval.
func (s *Server) NodeDown(nodeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeByID(nodeID)
	if n == nil {
		return fmt.Errorf("nomadfake: no node %s", nodeID)
	}
	t := s.begin()
	n.n.Status = api.NodeStatusDown
	n.n.StatusUpdatedAt = t.now.Unix()
	t.node(n, "NodeStreamEvent")
	s.commit(t)

	p := s.begin()
	lost := map[string][]*alloc{}
	for _, id := range s.allocOrder {
		a := s.allocs[id]
		if a.a.NodeID != nodeID || terminal(a.a.ClientStatus) {
			continue
		}
		a.a.ClientStatus = api.AllocClientStatusLost
		a.a.DesiredStatus = api.AllocDesiredStatusStop
		a.a.DesiredDescription = descLost
		a.a.AllocModifyIndex = p.index
		p.alloc(a, "PlanResult")
		lost[a.a.JobID] = append(lost[a.a.JobID], a)
	}
	for _, jid := range s.jobOrder {
		if allocs := lost[jid]; len(allocs) > 0 {
			j := s.jobs[jid]
			e := s.newEval(p, j, "node-update", nodeID)
			s.schedule(p, j, e, allocs)
		}
	}
	s.commit(p)
	s.settle()
	return nil
}

// NodeUp is the killed client coming back with the same data dir: the node
// is ready again, blocked evals place (unlinked, scenario 5c), and the
// client kills the lost allocs' leftover processes: lost → running
// (Killing) → complete.
func (s *Server) NodeUp(nodeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeByID(nodeID)
	if n == nil {
		return fmt.Errorf("nomadfake: no node %s", nodeID)
	}
	t := s.begin()
	n.n.Status = api.NodeStatusReady
	n.n.StatusUpdatedAt = t.now.Unix()
	t.node(n, "NodeStreamEvent")
	s.commit(t)
	s.rerunBlocked()
	for _, id := range s.allocOrder {
		a := s.allocs[id]
		if a.a.NodeID != nodeID || a.a.ClientStatus != api.AllocClientStatusLost || !a.procs {
			continue
		}
		k := s.begin()
		a.a.ClientStatus = api.AllocClientStatusRunning
		s.beginKill(k, a)
		s.commit(k)
	}
	s.settle()
	return nil
}

// SetEligibility is POST /v1/node/<id>/eligibility.
func (s *Server) SetEligibility(nodeID string, eligible bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, err := s.setEligibility(nodeID, eligible)
	return err
}

func (s *Server) allocFor(id string) (*alloc, error) {
	a := s.allocs[id]
	if a == nil {
		return nil, fmt.Errorf("nomadfake: no alloc %s", id)
	}
	return a, nil
}

// StartTasks is the client starting an alloc's next lifecycle stage: its
// prestart tasks, or its main tasks once every prestart task exited 0. It
// fails for an alloc Nomad wants stopped, on a node that is not ready,
// that ended, or that replaces an alloc that has not ended yet.
func (s *Server) StartTasks(allocID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.allocFor(allocID)
	if err != nil {
		return err
	}
	if err := s.startable(a); err != nil {
		return err
	}
	t := s.begin()
	started := s.startNext(t, a)
	t.alloc(a, "AllocationUpdated")
	s.commit(t)
	if !started {
		return fmt.Errorf("nomadfake: alloc %s has no task left to start", allocID)
	}
	return nil
}

func (s *Server) startable(a *alloc) error {
	n := s.nodeByID(a.a.NodeID)
	switch {
	case a.a.DesiredStatus != api.AllocDesiredStatusRun:
		return fmt.Errorf("nomadfake: alloc %s is desired %s", a.a.ID, a.a.DesiredStatus)
	case terminal(a.a.ClientStatus):
		return fmt.Errorf("nomadfake: alloc %s is %s", a.a.ID, a.a.ClientStatus)
	case n == nil || n.n.Status != api.NodeStatusReady:
		return fmt.Errorf("nomadfake: node of alloc %s is not ready", a.a.ID)
	}
	// A replacement (PreviousAllocation set) waits until the server sees
	// the alloc it replaces terminal, as Nomad's client does (its
	// "upstream allocs" prerun hook). Beyond the recordings; observed on a
	// Nomad 1.6.1 dev agent: after `nomad alloc stop` the linked
	// replacement stayed pending, without task states, until the stopped
	// alloc was killed 5 s later. A lost alloc is terminal at once, though
	// its processes may still run on its down node.
	if prev := s.allocs[a.a.PreviousAllocation]; prev != nil && !terminal(prev.a.ClientStatus) {
		return fmt.Errorf("nomadfake: alloc %s waits for the alloc it replaces, %s, to end", a.a.ID, prev.a.ID)
	}
	return nil
}

// StartPending is an eager client: it starts every pending alloc that
// Nomad still wants running on a ready node and returns their IDs.
func (s *Server) StartPending() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var started []string
	for _, id := range s.allocOrder {
		a := s.allocs[id]
		if a.a.ClientStatus != api.AllocClientStatusPending || s.startable(a) != nil {
			continue
		}
		t := s.begin()
		s.startNext(t, a)
		t.alloc(a, "AllocationUpdated")
		s.commit(t)
		started = append(started, id)
	}
	return started
}

// ExitTask ends a running task with an exit code. Non-zero fails the alloc
// (restart attempts 0: scenarios 3 and 4); a prestart task exiting 0 starts
// the main tasks; the last main task exiting 0 completes the alloc.
func (s *Server) ExitTask(allocID, task string, code int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.allocFor(allocID)
	if err != nil {
		return err
	}
	t := s.begin()
	if err := s.exitTask(t, a, task, code); err != nil {
		s.index--
		return err
	}
	s.commit(t)
	s.settle()
	return nil
}

// Run starts an alloc until its main tasks run: prestart tasks start and
// exit 0 first.
func (s *Server) Run(allocID string) error {
	if err := s.StartTasks(allocID); err != nil {
		return err
	}
	for {
		s.mu.Lock()
		a := s.allocs[allocID]
		var pending string
		for _, task := range s.allocTasks(a) {
			if prestart(task) && a.a.TaskStates[task.Name].State == "running" {
				pending = task.Name
				break
			}
		}
		s.mu.Unlock()
		if pending == "" {
			return nil
		}
		if err := s.ExitTask(allocID, pending, 0); err != nil {
			return err
		}
	}
}

// Exit ends every running main task of the alloc with code.
func (s *Server) Exit(allocID string, code int) error {
	s.mu.Lock()
	a, err := s.allocFor(allocID)
	var names []string
	if err == nil {
		for _, task := range s.allocTasks(a) {
			if !prestart(task) && a.a.TaskStates[task.Name] != nil && a.a.TaskStates[task.Name].State == "running" {
				names = append(names, task.Name)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("nomadfake: alloc %s has no running main task", allocID)
	}
	return s.ExitTask(allocID, names[0], code)
}

// FailSetup starts the alloc's prestart task (skynomad's setup task,
// naming.SetupTaskName) and has it exit with code (scenario 4).
func (s *Server) FailSetup(allocID string, code int) error {
	if err := s.StartTasks(allocID); err != nil {
		return err
	}
	return s.ExitTask(allocID, naming.SetupTaskName, code)
}

// StopAlloc is POST /v1/allocation/<id>/stop (what a spot handler or
// `nomad alloc stop` does). It returns the eval ID.
func (s *Server) StopAlloc(allocID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evalID, _, ok := s.stopAlloc(allocID)
	if !ok {
		return "", fmt.Errorf("nomadfake: no alloc %s", allocID)
	}
	return evalID, nil
}

// Kill finishes killing an alloc that Nomad wants stopped (with
// Options.ManualKill): Terminated 137 / signal 9, Killed, complete.
func (s *Server) Kill(allocID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.allocFor(allocID)
	if err != nil {
		return err
	}
	if a.a.DesiredStatus == api.AllocDesiredStatusRun || terminal(a.a.ClientStatus) {
		return fmt.Errorf("nomadfake: alloc %s is not being stopped", allocID)
	}
	t := s.begin()
	s.finishKill(t, a)
	s.commit(t)
	s.settle()
	return nil
}

// StopJob is an operator's `nomad job stop` (DELETE /v1/job/<id>,
// scenario 6); purge removes the job too.
func (s *Server) StopJob(jobID string, purge bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, ok := s.deregister(jobID, purge); !ok {
		return fmt.Errorf("nomadfake: no job %s", jobID)
	}
	return nil
}

// WriteLog appends to a task's stdout or stderr.
func (s *Server) WriteLog(allocID, task, stream, data string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.allocFor(allocID)
	if err != nil {
		return err
	}
	if stream != "stdout" && stream != "stderr" {
		return fmt.Errorf("nomadfake: stream %q is not stdout or stderr", stream)
	}
	key := task + "." + stream
	a.logs[key] = append(a.logs[key], data...)
	s.broadcast()
	return nil
}

// DropEventStreams ends every open event stream, as a server restart or a
// network cut would; it returns how many were open.
func (s *Server) DropEventStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropStreams()
}

// Streams returns how many event streams are open.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// --- inspection ---

// Allocs returns the job's allocs (every version) in creation order, as
// GET /v1/allocation/<id> shows them.
func (s *Server) Allocs(jobID string) []*api.Allocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*api.Allocation
	for _, id := range s.allocOrder {
		if a := s.allocs[id]; a.a.JobID == jobID {
			out = append(out, s.fullAlloc(a))
		}
	}
	return out
}

// Alloc returns one alloc, or nil.
func (s *Server) Alloc(id string) *api.Allocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.allocs[id]; a != nil {
		return s.fullAlloc(a)
	}
	return nil
}

// Job returns the job's current version as GET /v1/job/<id> shows it, or
// nil.
func (s *Server) Job(id string) *api.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return nil
	}
	return s.jobView(j, j.cur())
}

// Versions returns every version of the job, oldest first.
func (s *Server) Versions(id string) []*api.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return nil
	}
	var out []*api.Job
	for _, v := range j.versions {
		out = append(out, s.jobView(j, v))
	}
	return out
}

// Variable returns a stored Nomad Variable, or nil.
func (s *Server) Variable(path string) *api.Variable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.vars[path]; v != nil {
		c := *v
		c.Items = maps.Clone(v.Items)
		return &c
	}
	return nil
}

// PutVariable stores a Nomad Variable as PUT /v1/var/<path> would.
func (s *Server) PutVariable(path string, items map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	now := s.now().UnixNano()
	s.vars[path] = &api.Variable{Namespace: "default", Path: path, Items: maps.Clone(items),
		CreateIndex: s.index, ModifyIndex: s.index, CreateTime: now, ModifyTime: now}
}

// MaxRunning is the most allocs of the job that were ever running at once
// with Nomad wanting them to run (desired status run).
func (s *Server) MaxRunning(jobID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRunning[jobID]
}

// MaxAlive is the most allocs of the job whose task processes were ever
// alive at once, whatever Nomad wanted and wherever they ran (a lost
// alloc's processes live on until its node returns): the number of copies
// of the task that ran at the same time.
func (s *Server) MaxAlive(jobID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxAlive[jobID]
}

// EverStarted reports whether any task of the alloc was ever started.
func (s *Server) EverStarted(allocID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.allocs[allocID]
	return a != nil && a.started
}

// ProcessesAlive reports whether the alloc's task processes still run on
// their node (true for a lost alloc until its node comes back).
func (s *Server) ProcessesAlive(allocID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.allocs[allocID]
	return a != nil && a.procs
}

// Signals returns the signals sent to the alloc through the client API.
func (s *Server) Signals(allocID string) []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.allocs[allocID]; a != nil {
		return append([]Signal(nil), a.signals...)
	}
	return nil
}

// Index is the current raft index.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// Requests lists "METHOD /path?query" of every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}
