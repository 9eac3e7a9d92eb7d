package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/jobs/api"
)

// freePort is a TCP port nothing listens on now, for a task's server.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A job group's client reaches its server by <task>-<rank>.<group>; the
// group ends SUCCEEDED when its primary task (the client) ends, and the
// server is stopped then, whatever it was doing.
func TestJobGroupMembersReachEachOtherByHostname(t *testing.T) {
	t.Parallel()
	scenario(t, func(t *testing.T, h *harness) {
		port := strconv.Itoa(freePort(t))
		id := h.launch("job-group.yaml", "--env", "PORT="+port)
		j := h.waitEnd(id)
		logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
		if j.Status != api.StatusSucceeded {
			t.Fatalf("status %s, want SUCCEEDED (the primary task succeeded):\n%s\nlogs:\n%s", j.Status, dump(j), logs)
		}
		containsInOrder(t, "job logs", logs, "(client", "client got: hello from the server")
		if !strings.Contains(logs, "(server") || !strings.Contains(logs, "server up on port "+port) {
			t.Errorf("the server's lines are missing from the job's logs:\n%s", logs)
		}
		for i, st := range taskStatuses(j) {
			if st != api.StatusSucceeded {
				t.Errorf("task %d is %s, want SUCCEEDED with its group", i, st)
			}
		}
		if l, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			l.Close()
			t.Errorf("the server still listens on port %s after the group ended", port)
		}
		if h.target.engine == "nomad" {
			h.checkGroupNomadJob(id, "server", "client")
		}
	})
}

// checkGroupNomadJob checks that a job group ran as one Nomad job with a
// task group per task.
func (h *harness) checkGroupNomadJob(id int64, tasks ...string) {
	h.t.Helper()
	jid := nomadJobID(id, 0)
	job, _, err := h.nomad().Jobs().Info(jid, nil)
	if err != nil {
		h.t.Fatalf("nomad job status %s: %v", jid, err)
	}
	var groups []string
	for _, tg := range job.TaskGroups {
		groups = append(groups, *tg.Name)
	}
	if strings.Join(groups, ",") != strings.Join(tasks, ",") {
		h.t.Errorf("Nomad job %s has task groups %v, want one per task: %v", jid, groups, tasks)
	}
}
