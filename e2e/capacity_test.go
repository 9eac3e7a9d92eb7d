package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws/ec2fake"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp/gcefake"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/interrupt/imdsmock"
	"github.com/skynomad/skynomad/jobs/api"
)

// The capacity loop on real parts: a real Nomad 1.6.1 server with no node
// of the offering's class, the real Nomad Autoscaler v0.5.0 agent loading
// skynomad-target and skynomad-apm and the policies `skynomad autoscaler
// policies` writes, the controller on Nomad, and a cloud control plane
// faked at its HTTP API whose instances boot as real Nomad clients
// (cloudNodes). Only the cloud is fake: nothing real of EC2 or GCE runs
// on one machine.

var (
	pluginsOnce sync.Once
	pluginDir   string
	pluginsErr  error
)

// plugins builds skynomad-target and skynomad-apm into a plugin_dir.
func plugins(t testing.TB) string {
	pluginsOnce.Do(func() {
		pluginDir = filepath.Join(filepath.Dir(skynomad), "plugins")
		cmd := exec.Command("go", "build", "-o", pluginDir+"/", "./cmd/skynomad-target", "./cmd/skynomad-apm")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginsErr = fmt.Errorf("building the plugins: %v\n%s", err, out)
		}
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return pluginDir
}

// capacityCluster is one test's autoscaled offerings.
type capacityCluster struct {
	h     *harness
	nodes *cloudNodes
	ec2   *ec2fake.Server
	gce   *gcefake.Server
	nomad *nomadapi.Client // one client: Nomad limits connections per client IP
	// policies is the agent's policy dir; agent the running agent and
	// agentLog its output.
	policies string
	agent    *exec.Cmd
	agentLog string
}

// newCapacityCluster starts the controller (jobs on Nomad, placed on the
// offerings' node classes), writes the policies of the offerings of
// infra with the given capacity, and runs the autoscaler agent.
func newCapacityCluster(t testing.TB, infra, capacity string, extraConfig string) *capacityCluster {
	t.Helper()
	addr := realagent.Addr(t, "NOMAD_ADDR", "the capacity loop needs a Nomad server; `make test` starts one")
	for _, bin := range []string{"nomad", "nomad-autoscaler"} {
		if _, err := exec.LookPath(bin); err != nil {
			realagent.Unavailable(t, bin+" not on PATH: `make tools` builds it")
		}
	}
	nomadClient, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	nodes := newCloudNodes(t, nomadClient)
	ec2 := ec2fake.New(ec2fake.Options{Hooks: nodes.hooks()})
	t.Cleanup(ec2.Close)
	gce := gcefake.New(gcefake.Options{Hooks: nodes.hooks()})
	t.Cleanup(gce.Close)

	cfg := fmt.Sprintf(`engine: nomad
infra: [aws, gcp]
nomad:
  runner_path: %s
  placement_timeout: 5m
autoscaler:
  infra: [%s]
  instance_types: [m6i.2xlarge, n2-standard-8]
  capacity: [%s]
  max_nodes: 2
  evaluation_interval: 2s
  cooldown: 8s
  node_drain_deadline: 30s
%s`, skynomad, infra, capacity, extraConfig)
	tg := target{name: "nomad", engine: "nomad", wait: 4 * time.Minute, config: cfg,
		needs: "the capacity loop needs a Nomad server; `make test` starts one"}
	h := newHarness(t, tg)
	policies := filepath.Join(h.home, "policies")
	c := &capacityCluster{h: h, nodes: nodes, ec2: ec2, gce: gce, nomad: h.nomad(), policies: policies}
	c.writePolicies()
	leader, err := c.nomad.Status().Leader()
	if err != nil {
		t.Fatal(err)
	}
	// The agent's HTTP port: 0 means its default, 8080, which another
	// test's agent may hold.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	agentCfg := fmt.Sprintf(`log_level  = "DEBUG"
plugin_dir = %q
http {
  bind_address = "127.0.0.1"
  bind_port    = %d
}
nomad {
  address = %q
}
policy {
  dir = %q
  source "nomad" {
    enabled = false
  }
}
apm "skynomad" {
  driver = "skynomad-apm"
  config = {
    controller_address = %q
  }
}
target "skynomad" {
  driver = "skynomad-target"
  config = {
    aws_endpoint  = %q
    ami           = "ami-0123456789abcdef0"
    gcp_endpoint  = %q
    gcp_project   = "skynomad-test"
    gcp_no_auth   = "true"
    nomad_servers = %q
    boot_timeout  = "2m"
  }
}
`, plugins(t), httpPort, addr, policies, "unix://"+filepath.Join(h.home, "controller.sock"), ec2.URL(), gce.URL(), leader)
	cfgFile := filepath.Join(h.home, "autoscaler.hcl")
	if err := os.WriteFile(cfgFile, []byte(agentCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(h.home, "..", filepath.Base(h.home)+"-autoscaler.log"))
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command("nomad-autoscaler", "agent", "-config", cfgFile)
	agent.Stdout, agent.Stderr = log, log
	agent.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDSKYNOMADTEST", "AWS_SECRET_ACCESS_KEY=not-a-secret",
		"AWS_EC2_METADATA_DISABLED=true")
	agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	c.agent, c.agentLog = agent, log.Name()
	t.Cleanup(func() {
		_ = syscall.Kill(-agent.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = agent.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-agent.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("autoscaler agent log:\n%s", lastLines(string(b), 60))
		}
		os.Remove(log.Name())
	})
	return c
}

// writePolicies runs `skynomad autoscaler policies` into the agent's
// policy dir (the offerings' and, the controller answering, the pools').
func (c *capacityCluster) writePolicies() result {
	c.h.t.Helper()
	r := c.h.mustRun("autoscaler", "policies", "--out", c.policies)
	if !strings.Contains(r.stdout, "wrote ") {
		c.h.t.Fatalf("autoscaler policies: %s", r)
	}
	return r
}

// reloadAgent makes the agent read its policies again, as an operator
// does after writing them: SIGHUP. It waits until the agent evaluates
// policies (before, it would not survive a SIGHUP: it handles signals
// last) and then until its policy dir source has reloaded.
func (c *capacityCluster) reloadAgent() {
	c.h.t.Helper()
	const evaluating, reloaded = "received policy for evaluation", "file policy source ID monitor received reload signal"
	count := func(s string) int {
		b, err := os.ReadFile(c.agentLog)
		if err != nil {
			c.h.t.Fatal(err)
		}
		return strings.Count(string(b), s)
	}
	wait := func(what string, ok func() bool) {
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				c.h.t.Fatalf("the autoscaler agent: still not %s after 30s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait("evaluating policies", func() bool { return count(evaluating) > 0 })
	before := count(reloaded)
	if err := c.agent.Process.Signal(syscall.SIGHUP); err != nil {
		c.h.t.Fatal(err)
	}
	wait("reloaded", func() bool { return count(reloaded) > before })
}

// machines are the fake clouds' instances with this node class.
func (c *capacityCluster) machines(class string) []cloudfake.Machine {
	var out []cloudfake.Machine
	for _, m := range append(c.ec2.Machines(), c.gce.Machines()...) {
		if m.Tags[cloud.TagNodeClass] == class || m.Tags[gcp.LabelKey(cloud.TagNodeClass)] == gcp.LabelValue(class) {
			out = append(out, m)
		}
	}
	return out
}

// classNodes are the Nomad nodes of the class that are not down.
func (c *capacityCluster) classNodes(class string) []*nomadapi.NodeListStub {
	nodes, _, err := c.nomad.Nodes().List(&nomadapi.QueryOptions{Filter: fmt.Sprintf("NodeClass == %q", class)})
	if err != nil {
		c.h.t.Fatal(err)
	}
	return slices.DeleteFunc(nodes, func(n *nomadapi.NodeListStub) bool { return n.Status == nomadapi.NodeStatusDown })
}

// TestCapacityFromZero: a job on an offering with no node: the autoscaler
// sees the controller's demand, the target launches an instance whose
// bootstrap makes it a client of the class, the job runs there and
// succeeds, and after the cooldown the node is drained and its instance
// terminated. On both clouds, spot and on-demand.
func TestCapacityFromZero(t *testing.T) {
	for _, tc := range []struct {
		name, infra, capacity, file, class, instanceType, offering string
		args                                                       []string
		spot                                                       bool
		managed                                                    func(cloudfake.Machine) string
	}{
		{name: "aws on-demand", infra: "aws/us-east-1", capacity: "on-demand", file: "capacity-hello.yaml",
			class: "sky-aws-us-east-1-m6i.2xlarge-on-demand", instanceType: "m6i.2xlarge",
			offering: "aws/us-east-1/m6i.2xlarge/on-demand",
			managed:  func(m cloudfake.Machine) string { return m.Tags[cloud.TagManaged] }},
		{name: "aws spot", infra: "aws/us-east-1", capacity: "spot", file: "capacity-hello.yaml", args: []string{"--use-spot"},
			class: "sky-aws-us-east-1-m6i.2xlarge-spot", instanceType: "m6i.2xlarge", spot: true,
			offering: "aws/us-east-1/m6i.2xlarge/spot",
			managed:  func(m cloudfake.Machine) string { return m.Tags[cloud.TagManaged] }},
		{name: "gcp on-demand", infra: "gcp/us-central1", capacity: "on-demand", file: "capacity-gcp-spot.yaml", args: []string{"--no-use-spot"},
			class: "sky-gcp-us-central1-n2-standard-8-on-demand", instanceType: "n2-standard-8",
			offering: gcp.LabelValue("gcp/us-central1/n2-standard-8/on-demand"),
			managed:  func(m cloudfake.Machine) string { return m.Tags[gcp.LabelKey(cloud.TagManaged)] }},
		{name: "gcp spot", infra: "gcp/us-central1", capacity: "spot", file: "capacity-gcp-spot.yaml",
			class: "sky-gcp-us-central1-n2-standard-8-spot", instanceType: "n2-standard-8", spot: true,
			offering: gcp.LabelValue("gcp/us-central1/n2-standard-8/spot"),
			managed:  func(m cloudfake.Machine) string { return m.Tags[gcp.LabelKey(cloud.TagManaged)] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapacityCluster(t, tc.infra, tc.capacity, "")
			h, class := c.h, tc.class
			if n := c.classNodes(class); len(n) != 0 {
				t.Fatalf("the cluster already has %d nodes of %s", len(n), class)
			}

			id := h.launch(tc.file, tc.args...)
			j := h.waitEnd(id)
			if j.Status != api.StatusSucceeded {
				t.Fatalf("job ended %s (%s); want SUCCEEDED", j.Status, j.FailureReason)
			}
			ms := c.machines(class)
			if len(ms) != 1 {
				t.Fatalf("%d instances launched for %s; want 1", len(ms), class)
			}
			m := ms[0]
			offering := m.Tags[cloud.TagOffering] + m.Tags[gcp.LabelKey(cloud.TagOffering)]
			if m.Spot != tc.spot || !strings.HasSuffix(m.InstanceType, tc.instanceType) || tc.managed(m) != "true" || offering != tc.offering {
				t.Errorf("instance %+v; want a %s %s with the skynomad tags", m, tc.capacity, tc.instanceType)
			}
			if log := h.mustRun("jobs", "logs", "--controller", fmt.Sprint(id)).stdout; !strings.Contains(log, "placed on node cloud-") {
				t.Errorf("controller log: the attempt did not run on the provisioned node:\n%s", log)
			}

			// Demand is gone: after the cooldown the node drains, its
			// instance is terminated and its client stops.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				ms = c.machines(class)
				gone := len(ms) == 1 && (ms[0].State == "terminated" || ms[0].State == "deleted")
				if gone && len(c.nodes.running()) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no scale-in to zero: instances %+v, clients running %v", ms, c.nodes.running())
				}
				time.Sleep(time.Second)
			}
		})
	}
}

// refuseRegion makes the fake EC2 refuse every launch of instanceType in
// region's zones with code, as EC2 does when a region is out of a type.
func (c *capacityCluster) refuseRegion(region, instanceType, code, message string) {
	for _, z := range []string{"a", "b", "c"} {
		c.ec2.Refusals().Add(cloudfake.Refusal{Zone: region + z, InstanceType: instanceType, Code: code, Message: message})
	}
}

// liveMachines are the fake clouds' instances not terminated.
func (c *capacityCluster) liveMachines() []cloudfake.Machine {
	return slices.DeleteFunc(append(c.ec2.Machines(), c.gce.Machines()...), func(m cloudfake.Machine) bool {
		return m.State == "terminated" || m.State == "deleted"
	})
}

// TestCapacityFailover: the cloud refuses the first candidate's capacity;
// the target records the refusal, the controller moves the waiting
// attempt to the next candidate, and the job runs there. When every
// candidate is refused the job ends FAILED_NO_RESOURCE with the cloud's
// reason, and no instance is left.
func TestCapacityFailover(t *testing.T) {
	const ice = "We currently do not have sufficient m6i.2xlarge capacity in the Availability Zone you requested."
	t.Run("first candidate refused", func(t *testing.T) {
		c := newCapacityCluster(t, "aws/us-east-1, aws/us-west-2", "on-demand", "")
		h := c.h
		c.refuseRegion("us-east-1", "m6i.2xlarge", "InsufficientInstanceCapacity", ice)

		id := h.launch("capacity-failover.yaml")
		j := h.waitEnd(id)
		if j.Status != api.StatusSucceeded {
			t.Fatalf("job ended %s (%s); want SUCCEEDED on the second candidate", j.Status, j.FailureReason)
		}
		if tk := j.Tasks[0]; tk.Infra != "aws/us-west-2" || tk.Recoveries != 0 {
			t.Errorf("task ran on %s with %d recoveries; want aws/us-west-2 and none (a refusal is no recovery)", tk.Infra, tk.Recoveries)
		}
		log := h.mustRun("jobs", "logs", "--controller", fmt.Sprint(id)).stdout
		if !strings.Contains(log, "attempt 1: no capacity on AWS (us-east-1) m6i.2xlarge: aws refused capacity (stockout): InsufficientInstanceCapacity in us-east-1") {
			t.Errorf("controller log lacks the cloud's refusal:\n%s", log)
		}
		if ms := c.machines("sky-aws-us-east-1-m6i.2xlarge-on-demand"); len(ms) != 0 {
			t.Errorf("instances in the refused region: %+v", ms)
		}
	})
	t.Run("every candidate refused", func(t *testing.T) {
		c := newCapacityCluster(t, "aws/us-east-1, aws/us-west-2", "on-demand", "jobs:\n  launch_retries: 1\n")
		h := c.h
		c.refuseRegion("us-east-1", "m6i.2xlarge", "InsufficientInstanceCapacity", ice)
		c.refuseRegion("us-west-2", "m6i.2xlarge", "VcpuLimitExceeded",
			"You have requested more vCPU capacity than your current vCPU limit of 0 allows.")

		id := h.launch("capacity-failover.yaml")
		j := h.waitEnd(id)
		want := "last: AWS (us-west-2) m6i.2xlarge: aws refused capacity (quota): VcpuLimitExceeded in us-west-2"
		if j.Status != api.StatusFailedNoResource || !strings.Contains(j.FailureReason, want) {
			t.Fatalf("job ended %s (%s); want FAILED_NO_RESOURCE with %q", j.Status, j.FailureReason, want)
		}
		if out := h.mustRun("jobs", "queue", fmt.Sprint(id)).stdout; !strings.Contains(out, "VcpuLimitExceeded") {
			t.Errorf("jobs queue does not show the cloud's reason:\n%s", out)
		}
		if live := c.liveMachines(); len(live) != 0 {
			t.Errorf("instances left behind: %+v", live)
		}
	})
}

// TestCapacityPreemption: a job runs on a spot node the autoscaler
// provisioned; AWS announces the interruption (AEMM) and skynomad's
// interrupt handler on that node drains it and stops the task; the cloud
// then reclaims the instance. The controller counts one recovery, the
// demand stays, the target launches a fresh instance, and the job runs
// again there.
func TestCapacityPreemption(t *testing.T) {
	aemm := imdsmock.Require(t, realagent.Required())
	c := newCapacityCluster(t, "aws/us-east-1", "spot", "")
	h := c.h
	const class = "sky-aws-us-east-1-m6i.2xlarge-spot"

	checkpoint, ready := filepath.Join(h.work, "checkpoint"), filepath.Join(h.work, "ready")
	id := h.launch("checkpoint.yaml", "--infra", "aws/us-east-1", "--instance-type", "m6i.2xlarge", "--use-spot",
		"--env", "CHECKPOINT="+checkpoint, "--env", "READY="+ready)
	h.waitJob(id, "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
	h.waitLines(id, ready, 1)
	a := h.runningAlloc(id, 0)
	node, _, err := h.nomad().Nodes().Info(a.NodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := node.Meta["sky.instance_id"]
	if node.NodeClass != class || first == "" {
		t.Fatalf("the job runs on node %s (class %q, instance %q); want a provisioned node of %s", node.Name, node.NodeClass, first, class)
	}

	deadline := time.Now().Add(20 * time.Second).UTC().Truncate(time.Second)
	sim := imdsmock.Start(t, aemm, "--imdsv2", "spot", "--action", "terminate", "-d", "1", "-t", deadline.Format(time.RFC3339))
	defer sim.Stop()
	handler := startHandler(t, "--cloud", "aws", "--imds-endpoint", sim.URL, "--node-id", node.ID,
		"--alloc-root", c.nodes.allocRoot(first), "--poll-interval", "500ms")
	defer handler.stop()
	h.waitUntil(id, "the task's checkpoint", func() bool { _, err := os.Stat(checkpoint); return err == nil })

	// At the deadline AWS reclaims the instance.
	time.Sleep(time.Until(deadline))
	c.ec2.Preempt(first)

	j := h.waitJob(id, "RUNNING again after a recovery", func(j api.Job) bool {
		if j.Status.Terminal() {
			t.Fatalf("job %d ended %s instead of recovering:\n%s", id, j.Status, dump(j))
		}
		return j.Status == api.StatusRunning && j.Tasks[0].Recoveries >= 1
	})
	if j.Tasks[0].Recoveries != 1 || j.Tasks[0].Restarts != 0 {
		t.Errorf("recoveries %d, restarts %d; want 1, 0", j.Tasks[0].Recoveries, j.Tasks[0].Restarts)
	}
	b := h.runningAlloc(id, 0)
	nodeB, _, err := h.nomad().Nodes().Info(b.NodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second := nodeB.Meta["sky.instance_id"]; second == first || nodeB.NodeClass != class {
		t.Errorf("the job runs again on instance %q (class %s); want a fresh instance of %s", second, nodeB.NodeClass, class)
	}
	ms := c.machines(class)
	if len(ms) != 2 {
		t.Fatalf("%d instances of %s; want the reclaimed one and its replacement", len(ms), class)
	}
	for _, m := range ms {
		if m.ID == first && m.State != "terminated" {
			t.Errorf("the reclaimed instance is %s; want terminated", m.State)
		}
	}
	if t.Failed() {
		t.Logf("interrupt handler output:\n%s", handler.out.String())
	}
}

// BenchmarkCapacityLaunchToRunning: a job on an offering with no node,
// from `jobs launch` to RUNNING, with the autoscaler evaluating every 2 s.
// Reports launch-to-running-s (all of it), boot-s (the instance's "boot":
// from RunInstances to its Nomad client ready; a real VM takes minutes
// here, the fake's a real Nomad client's start) and skynomad-s (the rest:
// demand seen, instance requested, attempt placed and started).
func BenchmarkCapacityLaunchToRunning(b *testing.B) {
	const class = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
	var total, boot time.Duration
	for range b.N {
		c := newCapacityCluster(b, "aws/us-east-1", "on-demand", "")
		ctl := c.h.apiClient()
		start := time.Now()
		id := c.h.launch("capacity-hello-long.yaml")
		var requested, joined time.Time
		deadline := start.Add(3 * time.Minute)
		for {
			if requested.IsZero() {
				if ms := c.machines(class); len(ms) > 0 {
					requested = ms[0].Created
				}
			}
			if joined.IsZero() {
				for _, n := range c.classNodes(class) {
					if n.Status == nomadapi.NodeStatusReady {
						joined = time.Now()
					}
				}
			}
			j, err := ctl.Job(context.Background(), id)
			if err != nil {
				b.Fatal(err)
			}
			if j.Status == api.StatusRunning {
				total += time.Since(start)
				break
			}
			if j.Status.Terminal() || time.Now().After(deadline) {
				b.Fatalf("job %d is %s; want RUNNING", id, j.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if requested.IsZero() || joined.IsZero() {
			b.Fatal("RUNNING without an instance requested and joined")
		}
		boot += joined.Sub(requested)
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "launch-to-running-s")
	b.ReportMetric(boot.Seconds()/n, "boot-s")
	b.ReportMetric((total-boot).Seconds()/n, "skynomad-s")
}
