package interrupt

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/engine/nomad/nomadfake"
)

// cluster is the Nomad fake with one spot node running two skynomad
// allocations (one in its "run" task, one in its "setup" task), a job of
// somebody else, a sky-* job without the skynomad meta, and the handler's
// own allocation.
type cluster struct {
	fake   *nomadfake.Server
	client *api.Client
	log    *requestLog
	nodeID string
	// Alloc IDs.
	skyRun, skySetup, web, lookalike, self string
	// close stops the fake and its server (also done at cleanup).
	close func()
}

// requestLog records every request that changes something, with its time.
type requestLog struct {
	mu   sync.Mutex
	next http.Handler
	reqs []loggedRequest
}

type loggedRequest struct {
	at   time.Time
	what string // "METHOD /path"
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{time.Now(), r.Method + " " + r.URL.Path})
		l.mu.Unlock()
	}
	l.next.ServeHTTP(w, r)
}

// Writes lists the changing requests so far.
func (l *requestLog) Writes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		out = append(out, r.what)
	}
	return out
}

// First returns when the first request with this prefix was received.
func (l *requestLog) First(prefix string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		if strings.HasPrefix(r.what, prefix) {
			return r.at, true
		}
	}
	return time.Time{}, false
}

func (l *requestLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

func newCluster(t testing.TB, attrs map[string]string) *cluster {
	t.Helper()
	fake := nomadfake.New(nomadfake.Options{})
	log := &requestLog{next: fake}
	srv := newUnstartedLocalServer(t, log)
	srv.Start()
	var once sync.Once
	closeAll := func() { once.Do(func() { fake.Close(); srv.Close() }) }
	t.Cleanup(closeAll)
	client, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{fake: fake, client: client, log: log, close: closeAll}
	c.nodeID = fake.AddNode(nomadfake.NodeSpec{
		Name: "spot-1", Class: "sky-aws-us-east-1-m5.large-spot",
		Meta: map[string]string{"sky.capacity": "spot", "sky.cloud": "aws"}, Attributes: attrs,
	})
	c.skyRun = c.register(t, "sky-1-0", map[string]string{"sky.job_id": "1", "sky.attempt": "1"}, false)
	c.skySetup = c.register(t, "sky-2-0", map[string]string{"sky.job_id": "2", "sky.attempt": "1"}, true)
	c.web = c.register(t, "web", nil, false)
	c.lookalike = c.register(t, "sky-lookalike", map[string]string{"owner": "ops"}, false)
	c.self = c.register(t, "skynomad-interrupt-handler", nil, false)
	for _, id := range []string{c.skyRun, c.web, c.lookalike, c.self} {
		if err := fake.Run(id); err != nil {
			t.Fatal(err)
		}
	}
	// The setup task runs; "run" has not started.
	if err := fake.StartTasks(c.skySetup); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	return c
}

// register submits a batch job shaped like the Nomad engine's (restart and
// reschedule off) and returns its alloc ID.
func (c *cluster) register(t testing.TB, id string, meta map[string]string, withSetup bool) string {
	t.Helper()
	run := api.NewTask("run", "raw_exec").SetConfig("command", "/bin/sh").SetConfig("args", []string{"-c", "sleep 600"})
	tg := api.NewTaskGroup("main", 1).AddTask(run)
	if withSetup {
		setup := api.NewTask("setup", "raw_exec").SetConfig("command", "/bin/sh").SetConfig("args", []string{"-c", "sleep 60"})
		setup.Lifecycle = &api.TaskLifecycle{Hook: api.TaskLifecycleHookPrestart}
		tg.Tasks = append([]*api.Task{setup}, tg.Tasks...)
	}
	tg.RestartPolicy = &api.RestartPolicy{Attempts: new(0), Mode: new("fail")}
	tg.ReschedulePolicy = &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)}
	job := api.NewBatchJob(id, id, "global", 50).AddTaskGroup(tg)
	job.Datacenters = []string{"dc1"}
	job.Meta = meta
	if _, _, err := c.client.Jobs().Register(job, nil); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
	allocs := c.fake.Allocs(id)
	if len(allocs) != 1 {
		t.Fatalf("job %s has %d allocs; want 1", id, len(allocs))
	}
	return allocs[0].ID
}

// wantWrites is the handler's whole conversation with Nomad for one notice.
func (c *cluster) wantWrites() []string {
	// The API client lists a node's allocs newest first.
	return []string{
		"PUT /v1/node/" + c.nodeID + "/eligibility",
		"PUT /v1/var/skynomad/preemptions/" + c.skySetup,
		"PUT /v1/client/allocation/" + c.skySetup + "/signal",
		"PUT /v1/var/skynomad/preemptions/" + c.skyRun,
		"PUT /v1/client/allocation/" + c.skyRun + "/signal",
		"PUT /v1/allocation/" + c.skySetup + "/stop",
		"PUT /v1/allocation/" + c.skyRun + "/stop",
	}
}

// checkPreempted checks the state a handled notice leaves behind.
func (c *cluster) checkPreempted(t *testing.T, n Notice) {
	t.Helper()
	node, _, err := c.client.Nodes().Info(c.nodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if node.SchedulingEligibility != api.NodeSchedulingIneligible {
		t.Errorf("node eligibility = %s; want ineligible", node.SchedulingEligibility)
	}
	if diff := cmp.Diff([]nomadfake.Signal{{Task: "run", Signal: "SIGTERM"}}, c.fake.Signals(c.skyRun)); diff != "" {
		t.Errorf("signals to %s (-want +got):\n%s", c.skyRun, diff)
	}
	if diff := cmp.Diff([]nomadfake.Signal{{Task: "setup", Signal: "SIGTERM"}}, c.fake.Signals(c.skySetup)); diff != "" {
		t.Errorf("signals to %s (-want +got):\n%s", c.skySetup, diff)
	}
	for _, id := range []string{c.skyRun, c.skySetup} {
		a := c.fake.Alloc(id)
		if a.DesiredStatus != api.AllocDesiredStatusStop {
			t.Errorf("alloc %s desired status = %s; want stop", id, a.DesiredStatus)
		}
		v := c.fake.Variable(naming.PreemptionVariable(id))
		if v == nil {
			t.Errorf("no Variable %s", naming.PreemptionVariable(id))
			continue
		}
		want := map[string]string{
			"node_id": c.nodeID, "node_name": "spot-1", "cloud": string(n.Cloud), "action": string(n.Action),
			"notice_time": n.NoticeTime.UTC().Format(time.RFC3339), "deadline": n.Deadline.UTC().Format(time.RFC3339),
		}
		if diff := cmp.Diff(want, map[string]string(v.Items)); diff != "" {
			t.Errorf("Variable %s (-want +got):\n%s", v.Path, diff)
		}
	}
	for _, id := range []string{c.web, c.lookalike, c.self} {
		a := c.fake.Alloc(id)
		if a.DesiredStatus != api.AllocDesiredStatusRun || a.ClientStatus != api.AllocClientStatusRunning || len(c.fake.Signals(id)) > 0 {
			t.Errorf("alloc %s of job %s was touched: desired %s, client %s, signals %v", id, a.JobID, a.DesiredStatus, a.ClientStatus, c.fake.Signals(id))
		}
		if v := c.fake.Variable(naming.PreemptionVariable(id)); v != nil {
			t.Errorf("Variable written for alloc %s of job %s", id, a.JobID)
		}
	}
	// The node is ineligible and the only one: Nomad placed nothing back.
	for _, job := range []string{"sky-1-0", "sky-2-0"} {
		if n := len(c.fake.Allocs(job)); n != 1 {
			t.Errorf("job %s has %d allocs after the stop; want no replacement on the preempted node", job, n)
		}
	}
}

// TestHandlerAgainstNomadFake runs the api-backed handler against the Nomad
// fake: the calls, their order, the state left, and that neither a
// repeated notice nor a restarted handler changes anything more.
func TestHandlerAgainstNomadFake(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	now := time.Now()
	n := Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: now, Deadline: now.Add(3 * time.Second)}

	w := &chanWatcher{ch: make(chan Notice)}
	h, err := NewHandler(HandlerConfig{NodeID: c.nodeID, AllocRoot: t.TempDir(), StopMargin: 5 * time.Second, Logger: testLogger(t)}, w, c.client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	w.ch <- n
	waitFor(t, "both stops", 10*time.Second, func() bool { return len(c.log.Writes()) >= len(c.wantWrites()) })
	w.ch <- n // the same notice again
	w.ch <- n // Run has taken the previous one in: its reconcile is done
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.wantWrites(), c.log.Writes()); diff != "" {
		t.Errorf("requests to Nomad (-want +got):\n%s", diff)
	}
	c.checkPreempted(t, n)

	// A restarted handler (no memory) finds everything done.
	c.log.Reset()
	h2, err := NewHandler(HandlerConfig{NodeID: c.nodeID, AllocRoot: t.TempDir(), StopMargin: 5 * time.Second, Logger: testLogger(t)}, &chanWatcher{}, c.client)
	if err != nil {
		t.Fatal(err)
	}
	h2.accept(n)
	h2.reconcile(context.Background())
	if got := c.log.Writes(); len(got) > 0 {
		t.Errorf("a restarted handler repeated: %v", got)
	}
}

func TestAPIActionsStopGoneAlloc(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	n := apiActions{c: c.client}
	if err := n.Stop(context.Background(), allocInfo{ID: "00000000-0000-0000-0000-000000000000"}); err != nil {
		t.Errorf("stopping an unknown alloc: %v; want nil (nothing to stop)", err)
	}
	err := n.Signal(context.Background(), allocInfo{ID: c.web}, "setup", "SIGTERM")
	if err == nil {
		t.Error("signalling a task that does not run succeeded; want Nomad's error")
	}
}

// TestSetup resolves the node from the handler's own allocation and the
// cloud from the node's attributes.
func TestSetup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attrs     map[string]string
		cfg       Config
		wantCloud Cloud
		wantErr   string
	}{
		{name: "aws from attributes", attrs: map[string]string{"platform.aws.instance-type": "m5.large"}, cfg: Config{Cloud: CloudAuto}, wantCloud: CloudAWS},
		{name: "azure from attributes", attrs: map[string]string{"platform.azure.vm-size": "Standard_D4s_v5", "unique.platform.azure.name": "sky-spot-1"}, cfg: Config{Cloud: CloudAuto}, wantCloud: CloudAzure},
		{name: "flag wins", attrs: map[string]string{"platform.aws.instance-type": "m5.large"}, cfg: Config{Cloud: CloudGCP}, wantCloud: CloudGCP},
		{name: "no platform attributes", cfg: Config{Cloud: CloudAuto}, wantErr: "has no platform.aws/gce/azure attributes: pass --cloud"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, tc.attrs)
			cfg := tc.cfg
			cfg.AllocID, cfg.PollInterval, cfg.OnRebalance = c.self, time.Second, RebalanceIgnore
			h, err := Setup(context.Background(), cfg, c.client, testLogger(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Setup error = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.cfg.NodeID != c.nodeID {
				t.Errorf("node = %s; want %s (the node of alloc %s)", h.cfg.NodeID, c.nodeID, c.self)
			}
			var got Cloud
			switch w := h.watcher.(type) {
			case *AWSWatcher:
				got = CloudAWS
			case *GCPWatcher:
				got = CloudGCP
			case *AzureWatcher:
				got = CloudAzure
				if w.o.VMName != "sky-spot-1" {
					t.Errorf("Azure VM name = %q; want it from unique.platform.azure.name", w.o.VMName)
				}
			}
			if got != tc.wantCloud {
				t.Errorf("watcher for %q; want %q", got, tc.wantCloud)
			}
		})
	}
}
