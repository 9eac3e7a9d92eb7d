package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/jobs/api"
)

// TestPoolOnNomad: the pool story of TestPoolOnLocalEngine on the capacity
// loop's real parts (see newCapacityCluster). The pool is planned on an AWS
// offering, so its workers wait for nodes of its class sky-pool-<name>,
// which only the autoscaler launches, from the fixed-value policy that
// `skynomad autoscaler policies` writes for the pool; the operator reloads
// the agent after each pool apply. The fake EC2's instances boot as real
// Nomad clients, where the workers run setup and the jobs run beside them.
// The instance under rank 0's job dies (the cloud terminates it: its
// client and tasks go with it): the job recovers on the other worker or
// the replacement, and the autoscaler launches an instance for the
// replacement. After pool down the pool's policy keeps zero nodes: no
// worker, node or instance is left.
func TestPoolOnNomad(t *testing.T) {
	c := newCapacityCluster(t, "aws/us-east-1", "on-demand", "")
	h := c.h
	p := newPoolRun(h, "batch", "pool-worker-aws.yaml")
	class := naming.PoolNodeClass(p.name)
	if n := c.classNodes(class); len(n) != 0 {
		t.Fatalf("the cluster already has %d nodes of %s", len(n), class)
	}
	policyFile := filepath.Join(c.policies, policy.PoolFile(p.name))
	t.Cleanup(func() { // before the harness's: the controller still runs
		if !t.Failed() {
			return
		}
		for _, j := range h.queue() {
			t.Logf("job %d (%s, %s): controller log:\n%s", j.ID, j.Name, j.Status, h.run("jobs", "logs", "--controller", fmt.Sprint(j.ID)).stdout)
		}
	})

	applied := func() {
		r := c.writePolicies()
		if !strings.Contains(r.stdout, "wrote 1 worker pool policies") {
			t.Fatalf("autoscaler policies wrote no pool policy:\n%s", r)
		}
		pol, err := policy.ReadPool(policyFile)
		if err != nil {
			t.Fatal(err)
		}
		if pol.Workers != 2 || pol.Offering.Cloud != "aws" || pol.Offering.Region != "us-east-1" ||
			pol.Offering.InstanceType != "m6i.2xlarge" || pol.Offering.Spot {
			t.Fatalf("the pool's policy keeps %d nodes of %+v; want 2 on-demand m6i.2xlarge in aws/us-east-1", pol.Workers, pol.Offering)
		}
		c.reloadAgent()
	}
	var killed string // the instance under rank 0's job
	poolScenario(t, p, applied, func(w api.Worker) {
		// One worker per node, each on an instance of the pool's class.
		st := p.status()
		if len(st.Worker) != 2 || st.Worker[0].Node == st.Worker[1].Node {
			t.Errorf("workers not on two nodes:\n%s", dump(st.Worker))
		}
		node := c.node(w.Node)
		killed = node.Meta[naming.NodeMetaInstanceID]
		if node.NodeClass != class || !slices.ContainsFunc(c.machines(class), func(m cloudfake.Machine) bool { return m.ID == killed }) {
			t.Fatalf("worker %d runs on node %s (class %q, instance %q); want an instance of %s", w.ID, node.Name, node.NodeClass, killed, class)
		}
		// The fake terminates it at once, as a host failure or a spot
		// reclaim would, and cloudNodes ends its client and tasks.
		c.ec2.Preempt(killed)
	})

	// The killed instance was replaced; the roll kept the nodes.
	ms := c.machines(class)
	live := slices.DeleteFunc(slices.Clone(ms), func(m cloudfake.Machine) bool { return m.State == "terminated" })
	if len(ms) != 3 || len(live) != 2 || slices.ContainsFunc(live, func(m cloudfake.Machine) bool { return m.ID == killed }) {
		t.Errorf("instances of %s: %s; want the 2 first, the killed one %s terminated, and its replacement", class, instances(ms), killed)
	}

	// The pool is gone: its policy keeps no node.
	r := c.writePolicies()
	if want := fmt.Sprintf("pool %s is gone: its policy keeps 0 nodes", p.name); !strings.Contains(r.stdout, want) {
		t.Errorf("autoscaler policies after pool down, want %q:\n%s", want, r)
	}
	if pol, err := policy.ReadPool(policyFile); err != nil || pol.Workers != 0 {
		t.Fatalf("the retired pool's policy keeps %d nodes (%v); want 0", pol.Workers, err)
	}
	c.reloadAgent()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		live := slices.DeleteFunc(c.machines(class), func(m cloudfake.Machine) bool { return m.State == "terminated" })
		nodes := slices.DeleteFunc(c.classNodes(class), func(n *nomadapi.NodeListStub) bool { return n.Status != nomadapi.NodeStatusReady })
		workers := c.liveWorkerJobs()
		if len(live) == 0 && len(nodes) == 0 && len(c.nodes.running()) == 0 && len(workers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after pool down: instances %s, ready nodes of %s %d, clients running %v, worker jobs not dead %v",
				instances(live), class, len(nodes), c.nodes.running(), workers)
		}
		time.Sleep(time.Second)
	}
}

// instances lists machines as "ID state".
func instances(ms []cloudfake.Machine) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID+" "+m.State)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// node is the Nomad node named name.
func (c *capacityCluster) node(name string) *nomadapi.Node {
	c.h.t.Helper()
	stubs, _, err := c.nomad.Nodes().List(&nomadapi.QueryOptions{Filter: fmt.Sprintf("Name == %q", name)})
	if err != nil {
		c.h.t.Fatal(err)
	}
	if len(stubs) != 1 {
		c.h.t.Fatalf("%d Nomad nodes named %q", len(stubs), name)
	}
	n, _, err := c.nomad.Nodes().Info(stubs[0].ID, nil)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return n
}

// liveWorkerJobs are the Nomad jobs of pool workers, in the test's
// namespace, that are not dead.
func (c *capacityCluster) liveWorkerJobs() []string {
	c.h.t.Helper()
	stubs, _, err := c.nomad.Jobs().List(nil)
	if err != nil {
		c.h.t.Fatal(err)
	}
	var out []string
	for _, s := range stubs {
		j, _, err := c.nomad.Jobs().Info(s.ID, nil)
		if err != nil {
			c.h.t.Fatal(err)
		}
		if j.Meta[naming.MetaPoolWorker] == "true" && s.Status != "dead" {
			out = append(out, s.ID+" "+s.Status)
		}
	}
	return out
}
