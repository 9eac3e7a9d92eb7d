package nomadfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Version is the Nomad release whose HTTP API the fake follows.
const Version = "1.6.1"

// Options tune the fake. The zero value behaves like the recorded agents.
type Options struct {
	// BufferSize is how many event-stream frames (raft indexes) are kept for
	// replay. Nomad's default event buffer holds 100; older ones are skipped
	// silently by a replay (scenario 7).
	BufferSize int
	// HeartbeatInterval is how often an idle event stream sends `{}`
	// (Nomad: about 10 s).
	HeartbeatInterval time.Duration
	// ManualKill keeps an alloc that Nomad wants stopped running on its
	// client (events: Killing) until Kill is called. Without it the client
	// kills at once (the recorded clients took the 5 s kill_timeout).
	ManualKill bool
	// Now is the clock for timestamps; time.Now by default.
	Now func() time.Time
}

// Server is an in-memory Nomad 1.6.1 server with its clients, served over
// HTTP by ServeHTTP and driven by the scripting methods (script.go).
type Server struct {
	opts Options
	tpl  *templates
	mux  *http.ServeMux

	mu         sync.Mutex
	index      uint64
	ids        uint64
	nodes      []*node
	jobs       map[string]*job
	jobOrder   []string
	allocs     map[string]*alloc
	allocOrder []string
	evals      map[string]*api.Evaluation
	evalOrder  []string
	vars       map[string]*api.Variable
	buffer     []*frame
	subs       map[*subscriber]struct{}
	changed    chan struct{}
	maxRunning map[string]int
	maxAlive   map[string]int
	requests   []string
	closed     bool
}

// New returns an empty fake (no nodes, no jobs) at raft index 1.
func New(opts Options) *Server {
	if opts.BufferSize <= 0 {
		opts.BufferSize = 100
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tpl, err := loadTemplates()
	if err != nil {
		// The recordings are embedded: this is a build defect, not input.
		panic(err)
	}
	s := &Server{
		opts: opts, tpl: tpl, index: 1,
		jobs: map[string]*job{}, allocs: map[string]*alloc{}, evals: map[string]*api.Evaluation{},
		vars: map[string]*api.Variable{}, subs: map[*subscriber]struct{}{}, changed: make(chan struct{}),
		maxRunning: map[string]int{}, maxAlive: map[string]int{},
	}
	s.routes()
	return s
}

// ServeHTTP serves Nomad's HTTP API (the server and the client endpoints on
// one address).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

// Close ends every event stream and followed log so an httptest.Server
// holding them can close.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.dropStreams()
	s.broadcast()
}

func (s *Server) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) routes() {
	m := http.NewServeMux()
	both := func(pattern string, h http.HandlerFunc) {
		m.HandleFunc("PUT "+pattern, h)
		m.HandleFunc("POST "+pattern, h)
	}
	m.HandleFunc("GET /v1/jobs", s.locked(s.handleJobs))
	both("/v1/jobs", s.locked(s.handleRegister))
	m.HandleFunc("GET /v1/job/{id}", s.locked(s.handleJob))
	m.HandleFunc("DELETE /v1/job/{id}", s.locked(s.handleDeregister))
	m.HandleFunc("GET /v1/job/{id}/allocations", s.locked(s.handleJobAllocs))
	m.HandleFunc("GET /v1/job/{id}/evaluations", s.locked(s.handleJobEvals))
	m.HandleFunc("GET /v1/job/{id}/summary", s.locked(s.handleJobSummary))
	m.HandleFunc("GET /v1/job/{id}/versions", s.locked(s.handleJobVersions))
	m.HandleFunc("GET /v1/allocations", s.locked(s.handleAllocs))
	m.HandleFunc("GET /v1/allocation/{id}", s.locked(s.handleAlloc))
	both("/v1/allocation/{id}/stop", s.locked(s.handleAllocStop))
	both("/v1/client/allocation/{id}/signal", s.locked(s.handleSignal))
	m.HandleFunc("GET /v1/client/fs/logs/{id}", s.handleLogs)
	m.HandleFunc("GET /v1/event/stream", s.handleEventStream)
	m.HandleFunc("GET /v1/nodes", s.locked(s.handleNodes))
	m.HandleFunc("GET /v1/node/{id}", s.locked(s.handleNode))
	m.HandleFunc("GET /v1/node/{id}/allocations", s.locked(s.handleNodeAllocs))
	both("/v1/node/{id}/eligibility", s.locked(s.handleEligibility))
	m.HandleFunc("GET /v1/evaluations", s.locked(s.handleEvals))
	m.HandleFunc("GET /v1/evaluation/{id}", s.locked(s.handleEval))
	m.HandleFunc("GET /v1/var/{path...}", s.locked(s.handleVarGet))
	m.HandleFunc("PUT /v1/var/{path...}", s.locked(s.handleVarPut))
	m.HandleFunc("DELETE /v1/var/{path...}", s.locked(s.handleVarDelete))
	m.HandleFunc("GET /v1/vars", s.locked(s.handleVars))
	m.HandleFunc("GET /v1/agent/self", s.handleAgentSelf)
	m.HandleFunc("GET /v1/status/leader", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 0, "127.0.0.1:4647")
	})
	s.mux = m
}

// locked runs h under the server lock; the fake is one state machine.
// A GET with ?index=N is a blocking query, as in Nomad: it is answered once
// the index the answer carries (X-Nomad-Index) is above N, or when ?wait
// (default 5m) has passed. Like Nomad, the query is run again after every
// change, so a query on one alloc waits for that alloc to change.
func (s *Server) locked(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		minIndex, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
		if r.Method != http.MethodGet || err != nil || minIndex == 0 {
			s.mu.Lock()
			defer s.mu.Unlock()
			h(w, r)
			return
		}
		wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
		if err != nil || wait <= 0 {
			wait = 5 * time.Minute
		}
		timeout := time.NewTimer(wait)
		defer timeout.Stop()
		for {
			s.mu.Lock()
			rec := httptest.NewRecorder()
			h(rec, r)
			changed, closed := s.changed, s.closed
			s.mu.Unlock()
			index, _ := strconv.ParseUint(rec.Header().Get("X-Nomad-Index"), 10, 64)
			done := index > minIndex || rec.Code != http.StatusOK || closed
			if !done {
				select {
				case <-changed:
					continue
				case <-r.Context().Done():
					return
				case <-timeout.C:
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, index uint64, v any) {
	w.Header().Set("Content-Type", "application/json")
	if index > 0 {
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
		w.Header().Set("X-Nomad-KnownLeader", "true")
		w.Header().Set("X-Nomad-LastContact", "0")
	}
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers as Nomad does: plain text, no JSON (scenario 9).
func writeError(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text))
}

func (s *Server) notFoundJob(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, s.tpl.errors["09-error.job-not-found.txt"])
}

// --- jobs ---

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	out := []*api.JobListStub{}
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		jb := s.jobView(j, j.cur())
		out = append(out, &api.JobListStub{
			ID: id, Name: deref(jb.Name), Namespace: deref(jb.Namespace), Datacenters: jb.Datacenters,
			Type: deref(jb.Type), Priority: deref(jb.Priority), Stop: deref(jb.Stop), Status: j.status,
			JobSummary: s.summary(j), CreateIndex: j.createIndex, ModifyIndex: j.modifyIndex,
			JobModifyIndex: deref(jb.JobModifyIndex), SubmitTime: deref(jb.SubmitTime), Meta: jb.Meta,
		})
	}
	writeJSON(w, s.index, out)
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req api.JobRegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Job == nil {
		writeError(w, http.StatusBadRequest, "Request decode failed")
		return
	}
	resp, code, msg := s.register(&req)
	if code != 0 {
		writeError(w, code, msg)
		return
	}
	writeJSON(w, resp.index, map[string]any{
		"EvalCreateIndex": resp.evalIndex, "EvalID": resp.evalID, "Index": resp.index,
		"JobModifyIndex": resp.jobModifyIndex, "KnownLeader": false, "LastContact": 0,
		"NextToken": "", "Warnings": "",
	})
}

type registered struct {
	index, evalIndex, jobModifyIndex uint64
	evalID                           string
}

// register stores a new version unless the body is identical to the
// current one (scenario 8b), then evaluates the job.
func (s *Server) register(req *api.JobRegisterRequest) (registered, int, string) {
	jb := req.Job
	if jb.ID == nil || *jb.ID == "" {
		return registered{}, http.StatusBadRequest, "Job ID does not match name" // beyond recordings
	}
	jb.Canonicalize()
	for _, tg := range jb.TaskGroups {
		for _, task := range tg.Tasks {
			if task.Driver == "" {
				// The recorded message for scenario 9, with this job's names.
				msg := strings.NewReplacer(`group main`, "group "+deref(tg.Name), "Task run", "Task "+task.Name).
					Replace(s.tpl.errors["09-error.job-invalid.register.txt"])
				return registered{}, http.StatusInternalServerError, msg
			}
		}
	}
	id := *jb.ID
	j := s.jobs[id]
	if req.EnforceIndex {
		have := uint64(0)
		if j != nil {
			have = deref(j.cur().JobModifyIndex)
		}
		if have != req.JobModifyIndex {
			// Beyond the recordings: Nomad's check-and-set on register.
			return registered{}, http.StatusInternalServerError, fmt.Sprintf(
				"Enforcing job modify index %d: job exists with conflicting job modify index: %d", req.JobModifyIndex, have)
		}
	}
	sp := spec(jb)
	t := s.begin()
	if j == nil || j.specs[len(j.specs)-1] != sp {
		version := uint64(0)
		if j == nil {
			j = &job{id: id, createIndex: t.index}
			s.jobs[id] = j
			s.jobOrder = append(s.jobOrder, id)
		} else {
			version = deref(j.cur().Version) + 1
		}
		jb.Version = new(version)
		jb.CreateIndex = new(j.createIndex)
		jb.JobModifyIndex = new(t.index)
		jb.ModifyIndex = new(t.index)
		jb.SubmitTime = new(t.now.UnixNano())
		jb.Status = new("pending")
		j.versions = append(j.versions, jb)
		j.specs = append(j.specs, sp)
		j.status = "pending"
		t.job(j, "JobRegistered", true)
	}
	e := s.newEval(t, j, "job-register", "")
	e.Status = "pending"
	s.commit(t)
	res := registered{index: t.index, evalIndex: t.index, jobModifyIndex: deref(j.cur().JobModifyIndex), evalID: e.ID}

	p := s.begin()
	e.Status = "complete"
	p.eval(e, "PlanResult")
	s.schedule(p, j, e, nil)
	s.commit(p)
	s.settle()
	return res, 0, ""
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		s.notFoundJob(w)
		return
	}
	writeJSON(w, j.modifyIndex, s.jobView(j, j.cur()))
}

func (s *Server) handleDeregister(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	purge := r.URL.Query().Get("purge") == "true"
	evalID, jmi, ok := s.deregister(id, purge)
	if !ok {
		s.notFoundJob(w)
		return
	}
	writeJSON(w, s.index, map[string]any{
		"EvalCreateIndex": jmi, "EvalID": evalID, "Index": jmi, "JobModifyIndex": jmi,
		"KnownLeader": false, "LastContact": 0, "NextToken": "", "VolumeEvalID": "", "VolumeEvalIndex": 0,
	})
}

// deregister is `nomad job stop` (scenario 6): a new version with Stop
// set, its allocs "not needed", no replacement. With purge the job is gone
// from the API afterwards (beyond the recordings).
func (s *Server) deregister(id string, purge bool) (string, uint64, bool) {
	j := s.jobs[id]
	if j == nil {
		return "", 0, false
	}
	t := s.begin()
	if !deref(j.cur().Stop) {
		v := *j.cur()
		v.Stop = new(true)
		v.Version = new(deref(v.Version) + 1)
		v.JobModifyIndex = new(t.index)
		v.ModifyIndex = new(t.index)
		v.SubmitTime = new(t.now.UnixNano())
		j.versions = append(j.versions, &v)
		j.specs = append(j.specs, spec(&v))
	}
	t.job(j, "JobDeregistered", true)
	e := s.newEval(t, j, "job-deregister", "")
	s.schedule(t, j, e, nil)
	s.commit(t)
	jmi := deref(j.cur().JobModifyIndex)
	s.settle()
	if purge {
		delete(s.jobs, id)
		for i, jid := range s.jobOrder {
			if jid == id {
				s.jobOrder = append(s.jobOrder[:i:i], s.jobOrder[i+1:]...)
				break
			}
		}
	}
	return e.ID, jmi, true
}

func (s *Server) handleJobAllocs(w http.ResponseWriter, r *http.Request) {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		s.notFoundJob(w)
		return
	}
	out := []*api.AllocationListStub{}
	for _, a := range s.jobAllocs(j) {
		out = append(out, stub(a))
	}
	writeJSON(w, s.index, out)
}

func stub(a *alloc) *api.AllocationListStub {
	c := copyAlloc(a.a)
	return &api.AllocationListStub{
		ID: c.ID, EvalID: c.EvalID, Name: c.Name, Namespace: c.Namespace, NodeID: c.NodeID, NodeName: c.NodeName,
		JobID: c.JobID, JobType: "batch", JobVersion: a.version, TaskGroup: c.TaskGroup,
		DesiredStatus: c.DesiredStatus, DesiredDescription: c.DesiredDescription, ClientStatus: c.ClientStatus,
		ClientDescription: c.ClientDescription, TaskStates: c.TaskStates, FollowupEvalID: c.FollowupEvalID,
		NextAllocation: c.NextAllocation, CreateIndex: c.CreateIndex, ModifyIndex: c.ModifyIndex,
		CreateTime: c.CreateTime, ModifyTime: c.ModifyTime,
	}
}

// copyAlloc deep-copies through JSON so callers never share state.
func copyAlloc(a *api.Allocation) *api.Allocation {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	var out api.Allocation
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

func (s *Server) handleJobEvals(w http.ResponseWriter, r *http.Request) {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		s.notFoundJob(w)
		return
	}
	out := []*api.Evaluation{}
	for _, id := range j.evals {
		out = append(out, s.evals[id])
	}
	writeJSON(w, s.index, out)
}

func (s *Server) handleJobSummary(w http.ResponseWriter, r *http.Request) {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		s.notFoundJob(w)
		return
	}
	writeJSON(w, s.index, s.summary(j))
}

func (s *Server) handleJobVersions(w http.ResponseWriter, r *http.Request) {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		s.notFoundJob(w)
		return
	}
	out := []*api.Job{}
	for i := len(j.versions) - 1; i >= 0; i-- {
		out = append(out, s.jobView(j, j.versions[i]))
	}
	writeJSON(w, j.modifyIndex, map[string]any{"Versions": out, "Diffs": nil})
}

// --- allocations ---

func (s *Server) handleAllocs(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	out := []*api.AllocationListStub{}
	for _, id := range s.allocOrder {
		if strings.HasPrefix(id, prefix) {
			out = append(out, stub(s.allocs[id]))
		}
	}
	writeJSON(w, s.index, out)
}

// fullAlloc is GET /v1/allocation/<id>: the alloc with its job version.
func (s *Server) fullAlloc(a *alloc) *api.Allocation {
	c := copyAlloc(a.a)
	if j := s.jobs[a.a.JobID]; j != nil && s.allocJob(a) != nil {
		c.Job = s.jobView(j, s.allocJob(a))
	}
	return c
}

func (s *Server) handleAlloc(w http.ResponseWriter, r *http.Request) {
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		writeError(w, http.StatusNotFound, s.tpl.errors["09-error.alloc-not-found.txt"])
		return
	}
	writeJSON(w, a.a.ModifyIndex, s.fullAlloc(a))
}

func (s *Server) handleAllocStop(w http.ResponseWriter, r *http.Request) {
	evalID, index, ok := s.stopAlloc(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, s.tpl.errors["09-error.alloc-stop-unknown.txt"])
		return
	}
	writeJSON(w, index, map[string]any{"EvalID": evalID, "Index": index})
}

// stopAlloc is POST /v1/allocation/<id>/stop without params (scenarios 5a,
// 5b): DesiredTransition.Migrate, then in the next plan "alloc is being
// migrated" with a linked replacement if a node fits, else a blocked eval.
func (s *Server) stopAlloc(id string) (string, uint64, bool) {
	a := s.allocs[id]
	if a == nil {
		return "", 0, false
	}
	j := s.jobs[a.a.JobID]
	t := s.begin()
	a.a.DesiredTransition.Migrate = new(true)
	t.alloc(a, "AllocationUpdateDesiredStatus")
	var e *api.Evaluation
	if j != nil {
		e = s.newEval(t, j, "alloc-stop", "")
	}
	s.commit(t)
	index := t.index
	if j != nil && !terminal(a.a.ClientStatus) {
		p := s.begin()
		s.desireStop(p, a, descMigrating, true)
		s.schedule(p, j, e, []*alloc{a})
		s.commit(p)
	}
	s.settle()
	evalID := ""
	if e != nil {
		evalID = e.ID
	}
	return evalID, index, true
}

func (s *Server) handleSignal(w http.ResponseWriter, r *http.Request) {
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown allocation %q", r.PathValue("id")))
		return
	}
	var req api.AllocSignalRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Request decode failed")
		return
	}
	if err := s.signal(a, req.Task, req.Signal); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, 0, map[string]any{})
}

// signal is the client signal endpoint (beyond the recordings): every
// running task (or the named one) gets a Signaling event.
func (s *Server) signal(a *alloc, task, sig string) error {
	if sig == "" {
		sig = "SIGKILL"
	}
	t := s.begin()
	n := 0
	for _, name := range sortedKeys(a.a.TaskStates) {
		ts := a.a.TaskStates[name]
		if (task == "" || task == name) && ts.State == "running" {
			ev := s.addEvent(t, ts, api.TaskSignaling, map[string]string{"signal": sig})
			ev.TaskSignal = sig
			ev.DisplayMessage = "Task being sent signal " + sig
			a.signals = append(a.signals, Signal{Task: name, Signal: sig})
			n++
		}
	}
	if n == 0 {
		s.index--
		return errors.New("Task not running") //nolint:staticcheck // Nomad's wording
	}
	t.alloc(a, "AllocationUpdated")
	s.commit(t)
	return nil
}

// --- nodes ---

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	out := []*api.NodeListStub{}
	for _, n := range s.nodes {
		out = append(out, &api.NodeListStub{
			Address: "127.0.0.1", ID: n.n.ID, Datacenter: n.n.Datacenter, Name: n.n.Name, NodeClass: n.n.NodeClass,
			NodePool: n.n.NodePool, Version: Version, Drain: n.n.Drain, SchedulingEligibility: n.n.SchedulingEligibility,
			Status: n.n.Status, StatusDescription: n.n.StatusDescription, Drivers: n.n.Drivers,
			CreateIndex: n.n.CreateIndex, ModifyIndex: n.n.ModifyIndex,
		})
	}
	writeJSON(w, s.index, out)
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) {
	n := s.nodeByID(r.PathValue("id"))
	if n == nil {
		writeError(w, http.StatusNotFound, "node not found")
		return
	}
	c := *n.n
	// Every fake client answers on the fake's own address, so callers that
	// talk to the client directly (alloc logs) reach it.
	c.HTTPAddr = r.Host
	writeJSON(w, n.n.ModifyIndex, &c)
}

func (s *Server) handleNodeAllocs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.nodeByID(id) == nil {
		writeError(w, http.StatusNotFound, "node not found")
		return
	}
	out := []*api.Allocation{}
	for _, aid := range s.allocOrder {
		if a := s.allocs[aid]; a.a.NodeID == id {
			out = append(out, s.fullAlloc(a))
		}
	}
	writeJSON(w, s.index, out)
}

func (s *Server) handleEligibility(w http.ResponseWriter, r *http.Request) {
	var req api.NodeUpdateEligibilityRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Request decode failed")
		return
	}
	if req.Eligibility != api.NodeSchedulingEligible && req.Eligibility != api.NodeSchedulingIneligible {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid scheduling eligibility %q", req.Eligibility))
		return
	}
	ids, index, err := s.setEligibility(r.PathValue("id"), req.Eligibility == api.NodeSchedulingEligible)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	var evalIDs []string
	evalIndex := uint64(0)
	if len(ids) > 0 {
		evalIDs, evalIndex = ids, index
	}
	writeJSON(w, index, map[string]any{"EvalCreateIndex": evalIndex, "EvalIDs": evalIDs, "Index": index, "NodeModifyIndex": 0})
}

// setEligibility toggles a node (scenario 5b). Making it eligible creates a
// node-update eval per job with allocs on it and re-runs blocked evals.
func (s *Server) setEligibility(id string, eligible bool) ([]string, uint64, error) {
	n := s.nodeByID(id)
	if n == nil {
		return nil, 0, fmt.Errorf("node not found")
	}
	t := s.begin()
	n.n.SchedulingEligibility = api.NodeSchedulingIneligible
	if eligible {
		n.n.SchedulingEligibility = api.NodeSchedulingEligible
	}
	t.node(n, "NodeDrain")
	s.commit(t)
	var evalIDs []string
	if eligible {
		p := s.begin()
		for _, jid := range s.jobOrder {
			j := s.jobs[jid]
			for _, a := range s.jobAllocs(j) {
				if a.a.NodeID == id {
					e := s.newEval(p, j, "node-update", id)
					s.schedule(p, j, e, nil)
					evalIDs = append(evalIDs, e.ID)
					break
				}
			}
		}
		s.commit(p)
		s.settle()
	}
	return evalIDs, t.index, nil
}

// --- evaluations ---

func (s *Server) handleEvals(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	out := []*api.Evaluation{}
	for _, id := range s.evalOrder {
		if e := s.evals[id]; status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	writeJSON(w, s.index, out)
}

func (s *Server) handleEval(w http.ResponseWriter, r *http.Request) {
	e := s.evals[r.PathValue("id")]
	if e == nil {
		writeError(w, http.StatusNotFound, "eval not found")
		return
	}
	writeJSON(w, e.ModifyIndex, e)
}

// --- variables (beyond the recordings: Nomad 1.6's /v1/var API) ---

func varPath(r *http.Request) string { return strings.Trim(r.PathValue("path"), "/") }

func (s *Server) handleVarGet(w http.ResponseWriter, r *http.Request) {
	v := s.vars[varPath(r)]
	if v == nil {
		writeError(w, http.StatusNotFound, "variable not found")
		return
	}
	writeJSON(w, v.ModifyIndex, v)
}

func (s *Server) handleVarPut(w http.ResponseWriter, r *http.Request) {
	var in api.Variable
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Request decode failed")
		return
	}
	path := varPath(r)
	old := s.vars[path]
	if cas := r.URL.Query().Get("cas"); cas != "" {
		want, _ := strconv.ParseUint(cas, 10, 64)
		have := uint64(0)
		if old != nil {
			have = old.ModifyIndex
		}
		if want != have {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(old)
			return
		}
	}
	s.index++
	now := s.now().UnixNano()
	v := &api.Variable{Namespace: "default", Path: path, Items: in.Items, ModifyIndex: s.index, ModifyTime: now,
		CreateIndex: s.index, CreateTime: now}
	if in.Namespace != "" {
		v.Namespace = in.Namespace
	}
	if old != nil {
		v.CreateIndex, v.CreateTime = old.CreateIndex, old.CreateTime
	}
	s.vars[path] = v
	writeJSON(w, s.index, v)
}

func (s *Server) handleVarDelete(w http.ResponseWriter, r *http.Request) {
	path := varPath(r)
	if cas := r.URL.Query().Get("cas"); cas != "" {
		want, _ := strconv.ParseUint(cas, 10, 64)
		if old := s.vars[path]; old != nil && old.ModifyIndex != want {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(old)
			return
		}
	}
	delete(s.vars, path)
	s.index++
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.index, 10))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleVars(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	paths := sortedKeys(s.vars)
	out := []*api.VariableMetadata{}
	for _, p := range paths {
		if v := s.vars[p]; strings.HasPrefix(p, prefix) {
			out = append(out, v.Metadata())
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Path < out[k].Path })
	writeJSON(w, s.index, out)
}

func (s *Server) handleAgentSelf(w http.ResponseWriter, r *http.Request) {
	b, err := Fixture("01-agent-self.json")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
