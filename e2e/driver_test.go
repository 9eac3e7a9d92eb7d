package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/bootstrap"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/interrupt/imdsmock"
	"github.com/skynomad/skynomad/jobs/api"
)

// The skypilot task-driver plugin on Nomad clients this test starts: the
// whole e2e suite already runs on it (the test cluster's clients load it,
// raw_exec off); here, what only a client of one's own can show.

// bootNode boots a client as the bootstrap of the offering would leave it
// (cloudNodes), and waits until it is ready with the skypilot driver
// healthy.
func bootNode(t *testing.T, nodes *cloudNodes, nc *nomadapi.Client, m cloudfake.Machine) *nomadapi.Node {
	t.Helper()
	nodes.boot(m)
	return waitNode(t, nc, "cloud-"+m.ID)
}

// waitNode waits until the node named name is ready with a healthy
// skypilot driver.
func waitNode(t *testing.T, nc *nomadapi.Client, name string) *nomadapi.Node {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	state := "not registered"
	for time.Now().Before(deadline) {
		stubs, _, err := nc.Nodes().List(&nomadapi.QueryOptions{Filter: fmt.Sprintf("Name == %q", name)})
		if err == nil && len(stubs) == 1 {
			n, _, err := nc.Nodes().Info(stubs[0].ID, nil)
			if err == nil {
				d := n.Drivers[driver.PluginName]
				state = fmt.Sprintf("status %s, driver %+v", n.Status, d)
				if n.Status == nomadapi.NodeStatusReady && d != nil && d.Healthy {
					return n
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("node %s not ready with a healthy skypilot driver after 90 s: %s", name, state)
	return nil
}

func offeringNode(t *testing.T, nc *nomadapi.Client, id, class, capacity string) cloudfake.Machine {
	t.Helper()
	leader, err := nc.Status().Leader()
	if err != nil {
		t.Fatal(err)
	}
	script, err := bootstrap.Render(bootstrap.DefaultTemplate, bootstrap.Values{Cloud: "aws", Region: "us-east-1",
		InstanceType: "m6i.xlarge", Capacity: capacity, NodeClass: class, NomadServers: []string{leader}})
	if err != nil {
		t.Fatal(err)
	}
	return cloudfake.Machine{Cloud: "aws", ID: id, Zone: "us-east-1b", InstanceType: "m6i.xlarge", Bootstrap: script}
}

// TestDriverFingerprint: `nomad node status -verbose` shows the skypilot
// driver healthy with the offering's attributes, from the bootstrap's
// plugin config, and from the instance metadata (AWS's IMDS simulator)
// where the config leaves them out.
func TestDriverFingerprint(t *testing.T) {
	nc := driverTestCluster(t)
	nodes := newCloudNodes(t, nc)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

	// From the plugin config the bootstrap writes.
	const class = "sky-aws-us-east-1-m6i.xlarge-spot"
	n := bootNode(t, nodes, nc, offeringNode(t, nc, "i-fp"+suffix, class, "spot"))
	out, err := exec.Command("nomad", "node", "status", "-verbose", n.ID).CombinedOutput()
	if err != nil {
		t.Fatalf("nomad node status -verbose: %v\n%s", err, out)
	}
	status := string(out)
	if !regexp.MustCompile(`(?m)^raw_exec\s+false\s+false\s+disabled`).MatchString(status) {
		t.Errorf("node status does not show raw_exec disabled:\n%s", status)
	}
	if !regexp.MustCompile(`(?m)^skypilot\s+true\s+true\s+Healthy`).MatchString(status) {
		t.Errorf("node status does not show the skypilot driver detected and healthy:\n%s", status)
	}
	for k, v := range map[string]string{"cloud": "aws", "region": "us-east-1", "zone": "us-east-1b", "instance_type": "m6i.xlarge", "spot": "true"} {
		if !regexp.MustCompile(`(?m)^driver\.skypilot\.` + k + `\s+=\s+` + regexp.QuoteMeta(v) + `$`).MatchString(status) {
			t.Errorf("node status lacks driver.skypilot.%s = %s:\n%s", k, v, status)
		}
	}

	// From IMDSv2, with nothing of the offering in the config.
	aemm := imdsmock.Start(t, imdsmock.Require(t, realagent.Required()))
	hcl := fmt.Sprintf(`client {
  enabled    = true
  servers    = [%q]
  node_class = "skypilot-driver-imds-test"
}
plugin "skypilot" {
  config {
    metadata              = "aws"
    aws_metadata_endpoint = %q
  }
}`, must1(nc.Status().Leader()), aemm.URL)
	m := cloudfake.Machine{Cloud: "aws", ID: "i-imds" + suffix, Zone: "us-east-1a",
		Bootstrap: "cat > client.hcl <<SKYNOMAD_CLIENT_HCL\n" + hcl + "\nSKYNOMAD_CLIENT_HCL\n"}
	n = bootNode(t, nodes, nc, m)
	want := map[string]string{"driver.skypilot.cloud": "aws", "driver.skypilot.region": "us-east-1",
		"driver.skypilot.zone": "us-east-1a", "driver.skypilot.instance_type": "m4.xlarge", "driver.skypilot.spot": "false"}
	for k, v := range want {
		if got := n.Attributes[k]; got != v {
			t.Errorf("node attribute %s = %q, want %q (the simulator's instance)", k, got, v)
		}
	}
}

// driverTestCluster is a client of the test cluster's server, which the
// driver tests join clients of their own to.
func driverTestCluster(t *testing.T) *nomadapi.Client {
	t.Helper()
	realagent.Addr(t, "NOMAD_ADDR", "the driver tests start Nomad clients of their own; `make test` starts the server")
	nc, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestClientCrashKeepsTheTask: a Nomad client killed with SIGKILL while a
// task runs, then started again: the task is the same process all along,
// its log goes on, and the managed job finishes once, with no recovery.
func TestClientCrashKeepsTheTask(t *testing.T) {
	nc := driverTestCluster(t)
	nodes := newCloudNodes(t, nc)
	const class = "sky-aws-us-east-1-m6i.xlarge-on-demand"
	id := "i-crash" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	node := bootNode(t, nodes, nc, offeringNode(t, nc, id, class, "on-demand"))

	h := newHarness(t, target{name: "nomad", engine: "nomad", wait: 3 * time.Minute,
		config: "engine: nomad\ninfra: [aws]\n", needs: "a Nomad server"})
	job := h.launch("survivor.yaml", "--infra", "aws/us-east-1", "--instance-type", "m6i.xlarge", "--no-use-spot",
		"--env", "WORK="+h.work)
	h.waitJob(job, "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
	pidFile := filepath.Join(h.work, "pid")
	h.waitLines(job, pidFile, 1)
	pid, err := strconv.Atoi(strings.TrimSpace(string(must1(os.ReadFile(pidFile)))))
	if err != nil {
		t.Fatal(err)
	}
	alloc := h.runningAlloc(job, 0)
	if alloc.NodeID != node.ID {
		t.Fatalf("the job runs on node %s, want the test's node %s", alloc.NodeName, node.Name)
	}
	ticksBefore := lastTick(h, job)

	nodes.crash(id)
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("the task (pid %d) died with its Nomad client", pid)
	}
	// The client is back when it has re-attached: the driver is healthy
	// and the log (through Nomad, from the task's FIFO) moves again.
	waitNode(t, nc, node.Name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for lastTick(h, job) < ticksBefore+10 {
		if ctx.Err() != nil {
			t.Fatalf("the task's log stopped at tick %d after the client restarted", lastTick(h, job))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("the task (pid %d) is gone after the restart", pid)
	}
	if a := h.runningAlloc(job, 0); a.ID != alloc.ID {
		t.Fatalf("the job runs in alloc %s after the restart, want the same %s", a.ID, alloc.ID)
	}

	if err := os.WriteFile(filepath.Join(h.work, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j := h.waitJob(job, "SUCCEEDED", func(j api.Job) bool { return j.Status.Terminal() })
	if j.Status != api.StatusSucceeded || j.Tasks[0].Recoveries != 0 || j.Tasks[0].Restarts != 0 {
		t.Errorf("job ended %s with %d recoveries and %d restarts; want SUCCEEDED, 0, 0:\n%s", j.Status, j.Tasks[0].Recoveries, j.Tasks[0].Restarts, dump(j))
	}
	if runs := readLines(filepath.Join(h.work, "runs")); len(runs) != 1 {
		t.Errorf("the task started %d times, want once", len(runs))
	}
	if log := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(job, 10)).stdout; !strings.Contains(log, "done after the restart") {
		t.Errorf("the job's log lacks its last line:\n%s", lastLines(log, 10))
	}
}

var tickLine = regexp.MustCompile(`tick (\d+)`)

// lastTick is the highest "tick N" in the job's log so far.
func lastTick(h *harness, job int64) int {
	h.t.Helper()
	out := h.run("jobs", "logs", "--no-follow", strconv.FormatInt(job, 10)).stdout
	last := 0
	for _, m := range tickLine.FindAllStringSubmatch(out, -1) {
		if n, _ := strconv.Atoi(m[1]); n > last {
			last = n
		}
	}
	return last
}
