package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/internal/syncbuf"
	"github.com/skynomad/skynomad/interrupt"
	"github.com/skynomad/skynomad/interrupt/imdsmock"
	"github.com/skynomad/skynomad/jobs/api"
)

// TestSpotNoticeMovesJobToAnotherNode: AWS announces that node A's spot
// instance goes in 30 s. skynomad's interrupt handler for A, a real
// process polling AWS's own IMDS simulator, marks A ineligible, records
// the preemption and SIGTERMs the task, which checkpoints and exits; the
// controller counts a recovery (not a failure, not a restart) and the job
// runs again on node B.
//
// It needs NOMAD_ADDR with at least two ready, eligible nodes (skypilot driver)
// on this host, and ec2-metadata-mock. It does not run in parallel with
// the other tests here: the handler acts on every skynomad allocation on
// A, whatever its namespace (so other packages' tests against the same
// cluster should not run meanwhile).
func TestSpotNoticeMovesJobToAnotherNode(t *testing.T) {
	times := spotNotice(t)
	t.Logf("notice visible → SIGTERM delivered (checkpoint written): %s", times.toSIGTERM.Round(time.Millisecond))
	t.Logf("notice visible → RUNNING again on another node: %s", times.toRunning.Round(time.Millisecond))
}

// BenchmarkSpotNoticeToRunningElsewhere measures what a spot notice costs
// a managed job on Nomad (see TestSpotNoticeMovesJobToAnotherNode): from
// the notice appearing in the instance metadata to SIGTERM reaching the
// task, and to the job RUNNING again on another node.
func BenchmarkSpotNoticeToRunningElsewhere(b *testing.B) {
	var sigterm, running time.Duration
	for range b.N {
		times := spotNotice(b)
		sigterm += times.toSIGTERM
		running += times.toRunning
	}
	b.ReportMetric(sigterm.Seconds()/float64(b.N), "notice-to-sigterm-s")
	b.ReportMetric(running.Seconds()/float64(b.N), "notice-to-running-s")
}

// spotTimes is what one spot notice cost, from when the notice was first
// visible in the instance metadata.
type spotTimes struct {
	toSIGTERM time.Duration // the task's trap wrote its checkpoint
	toRunning time.Duration // the queue shows the job RUNNING again
}

// spotNotice runs the scenario once and returns its timings.
func spotNotice(tb testing.TB) spotTimes {
	tb.Helper()
	aemmBin := spotPrerequisites(tb)
	var nomad target
	for _, tg := range targets() {
		if tg.engine == "nomad" {
			nomad = tg
		}
	}
	h := newHarness(tb, nomad)
	defer h.shutdown()
	c := h.nomad()

	checkpoint, ready := filepath.Join(h.work, "checkpoint"), filepath.Join(h.work, "ready")
	id := h.launch("checkpoint.yaml", "--env", "CHECKPOINT="+checkpoint, "--env", "READY="+ready)
	h.waitJob(id, "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
	h.waitLines(id, ready, 1) // the trap is set
	a := h.runningAlloc(id, 0)
	nodeA := a.NodeID
	defer setEligible(tb, c, nodeA, true)
	root := allocRootOf(tb, "CHECKPOINT="+checkpoint, a.ID)

	deadline := time.Now().Add(30 * time.Second).UTC().Truncate(time.Second)
	sim := imdsmock.Start(tb, aemmBin, "--imdsv2", "spot", "--action", "terminate", "-d", "1", "-t", deadline.Format(time.RFC3339))
	defer sim.Stop()
	handler := startHandler(tb, "--cloud", "aws", "--imds-endpoint", sim.URL, "--node-id", nodeA,
		"--alloc-root", root, "--poll-interval", "500ms")
	defer handler.stop()
	noticeAt := waitNotice(tb, sim)

	waitFor(tb, "node A ineligible", nomad.wait, func() bool {
		n, _, err := c.Nodes().Info(nodeA, nil)
		return err == nil && n.SchedulingEligibility == nomadapi.NodeSchedulingIneligible
	})
	h.waitUntil(id, "the task's checkpoint", func() bool { _, err := os.Stat(checkpoint); return err == nil })
	sigtermAt := readEpoch(tb, checkpoint)
	if !sigtermAt.Before(deadline) {
		tb.Errorf("the task got SIGTERM at %s, not before the deadline %s", sigtermAt, deadline)
	}

	var runningAt time.Time
	j := h.waitJob(id, "RUNNING again after a recovery", func(j api.Job) bool {
		if j.Status.Terminal() {
			tb.Fatalf("job %d ended %s instead of recovering:\n%s", id, j.Status, dump(j))
		}
		if j.Status == api.StatusRunning && j.Tasks[0].Recoveries >= 1 {
			runningAt = time.Now()
			return true
		}
		return false
	})
	if j.Recoveries != 1 || j.Tasks[0].Recoveries != 1 || j.Tasks[0].Restarts != 0 {
		tb.Errorf("recoveries %d (task %d), restarts %d; want 1, 1, 0:\n%s", j.Recoveries, j.Tasks[0].Recoveries, j.Tasks[0].Restarts, dump(j))
	}
	if b := h.runningAlloc(id, 0); b.NodeID == nodeA {
		tb.Errorf("the job runs again on node %s, the one that got the notice", b.NodeName)
	} else {
		tb.Logf("job %d moved from node %s to node %s", id, a.NodeName, b.NodeName)
	}
	ctl := h.mustRun("jobs", "logs", "--controller", "--no-follow", strconv.FormatInt(id, 10)).stdout
	if !strings.Contains(ctl, "preemption notice at") {
		tb.Errorf("the controller log does not mention the notice:\n%s", ctl)
	}
	if tb.Failed() {
		tb.Logf("interrupt handler output:\n%s", handler.out.String())
	}
	return spotTimes{toSIGTERM: sigtermAt.Sub(noticeAt), toRunning: runningAt.Sub(noticeAt)}
}

// spotPrerequisites skips unless NOMAD_ADDR names a cluster with two ready,
// eligible skypilot-driver nodes and ec2-metadata-mock is installed; in CI any of
// them missing fails the test (see realagent). It returns the simulator's
// path.
func spotPrerequisites(tb testing.TB) string {
	tb.Helper()
	addr := realagent.Addr(tb, "NOMAD_ADDR", "the spot test needs a Nomad cluster with two skypilot-driver nodes to move a job between; `make test` starts one")
	bin := imdsmock.Require(tb, realagent.Required())
	c, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	nodes, _, err := c.Nodes().List(nil)
	if err != nil {
		tb.Fatalf("listing the nodes of %s: %v", addr, err)
	}
	usable := 0
	for _, n := range nodes {
		d := n.Drivers[driver.PluginName]
		if n.Status == nomadapi.NodeStatusReady && n.SchedulingEligibility == nomadapi.NodeSchedulingEligible &&
			d != nil && d.Detected && d.Healthy {
			usable++
		}
	}
	if usable < 2 {
		realagent.Unavailable(tb, fmt.Sprintf("the spot test needs two ready, eligible skypilot-driver nodes; %s has %d", addr, usable))
	}
	return bin
}

// allocRootOf finds the Nomad client's allocation root from the
// environment of the task process tagged with kv (the skypilot driver gives it
// NOMAD_ALLOC_DIR = <root>/<alloc>/alloc).
func allocRootOf(tb testing.TB, kv, allocID string) string {
	tb.Helper()
	for _, pid := range processesWithEnv(kv) {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if dir, ok := strings.CutPrefix(string(v), "NOMAD_ALLOC_DIR="); ok {
				if root, ok := interrupt.AllocRootOf(dir, allocID); ok {
					return root
				}
			}
		}
	}
	tb.Fatalf("no process with %s has NOMAD_ALLOC_DIR of alloc %s", kv, allocID)
	return ""
}

// readEpoch reads a `date +%s.%N` timestamp.
func readEpoch(tb testing.TB, path string) time.Time {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sec, frac, _ := strings.Cut(strings.TrimSpace(string(b)), ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("%s holds %q, not a `date +%%s.%%N` time", path, b)
	}
	return time.Unix(s, ns)
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(tb testing.TB, what string, limit time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("still not %s after %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// process is a helper process the test started.
type process struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	once sync.Once
}

func startProcess(tb testing.TB, cmd *exec.Cmd) *process {
	tb.Helper()
	p := &process{cmd: cmd, out: &syncbuf.Buffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", cmd.Path, err)
	}
	tb.Cleanup(p.stop)
	return p
}

// stop ends the process (SIGTERM, then SIGKILL) and waits for it.
func (p *process) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			_ = p.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	})
}

// startHandler runs `skynomad interrupt-handler` with args against the
// cluster at NOMAD_ADDR, in no particular namespace.
func startHandler(tb testing.TB, args ...string) *process {
	tb.Helper()
	cmd := exec.Command(skynomad, append([]string{"interrupt-handler"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOMAD_NAMESPACE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return startProcess(tb, cmd)
}

// waitNotice polls the spot instance-action until it appears and returns
// when it was first seen.
func waitNotice(tb testing.TB, m *imdsmock.Mock) time.Time {
	tb.Helper()
	token := m.Token()
	client := &http.Client{Timeout: time.Second}
	var at time.Time
	waitFor(tb, "the spot notice in the instance metadata", 30*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, m.URL+"/latest/meta-data/spot/instance-action", nil)
		req.Header.Set("X-aws-ec2-metadata-token", token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		at = time.Now()
		return resp.StatusCode == http.StatusOK
	})
	return at
}
