package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/jobs/api"
)

// nomadNamespace creates a Nomad namespace for one test (on the cluster
// NOMAD_ADDR names) and, when the test ends, purges its jobs, deletes the
// Variables the engine and the spot handler wrote there, and deletes it
// (Nomad refuses to delete a namespace that still holds Variables).
func nomadNamespace(t testing.TB, name string) string {
	t.Helper()
	c, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ns := strings.ReplaceAll(name, "_", "-")
	if _, err := c.Namespaces().Register(&nomadapi.Namespace{Name: ns, Description: "skynomad e2e test " + t.Name()}, nil); err != nil {
		t.Fatalf("creating Nomad namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		q := &nomadapi.QueryOptions{Namespace: ns}
		jobs, _, err := c.Jobs().List(q)
		if err != nil {
			t.Logf("listing jobs of namespace %s: %v", ns, err)
		}
		w := &nomadapi.WriteOptions{Namespace: ns}
		for _, j := range jobs {
			if _, _, err := c.Jobs().Deregister(j.ID, true, w); err != nil {
				t.Logf("purging Nomad job %s: %v", j.ID, err)
			}
		}
		vars, _, err := c.Variables().List(q)
		if err != nil {
			t.Logf("listing the Variables of namespace %s: %v", ns, err)
		}
		for _, v := range vars {
			if _, err := c.Variables().Delete(v.Path, w); err != nil {
				t.Logf("deleting Variable %s of namespace %s: %v", v.Path, ns, err)
			}
		}
		if _, err := c.Namespaces().Delete(ns, nil); err != nil {
			t.Errorf("deleting Nomad namespace %s: %v", ns, err)
		}
	})
	return ns
}

// nomad is a Nomad API client for the harness's namespace.
func (h *harness) nomad() *nomadapi.Client {
	h.t.Helper()
	cfg := nomadapi.DefaultConfig()
	cfg.Namespace = h.ns
	c, err := nomadapi.NewClient(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// nomadJobID is the Nomad job of one task of a managed job.
func nomadJobID(id int64, task int) string { return fmt.Sprintf("sky-%d-%d", id, task) }

// runningAlloc waits for the alloc that runs task of job id now.
func (h *harness) runningAlloc(id int64, task int) *nomadapi.Allocation {
	h.t.Helper()
	c := h.nomad()
	deadline := time.Now().Add(h.target.wait)
	for {
		stubs, _, err := c.Jobs().Allocations(nomadJobID(id, task), false, nil)
		if err != nil {
			h.t.Fatalf("allocations of %s: %v", nomadJobID(id, task), err)
		}
		for _, s := range stubs {
			if s.ClientStatus == nomadapi.AllocClientStatusRunning && s.DesiredStatus == nomadapi.AllocDesiredStatusRun {
				a, _, err := c.Allocations().Info(s.ID, nil)
				if err != nil {
					h.t.Fatal(err)
				}
				return a
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no running alloc of %s after %s", nomadJobID(id, task), h.target.wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setEligible marks a node (in)eligible for new allocations.
func setEligible(t testing.TB, c *nomadapi.Client, nodeID string, eligible bool) {
	t.Helper()
	if _, err := c.Nodes().ToggleEligibility(nodeID, eligible, nil); err != nil {
		t.Errorf("marking node %s eligible=%v: %v", nodeID, eligible, err)
	}
}

// nomadPreempt does to task of job id what the spot handler does when a
// spot node goes: the alloc's node is marked ineligible and the alloc is
// stopped. Once skynomad shows the job RECOVERING (or has counted the
// recovery) the node is made eligible again so the relaunch can be placed:
// on a one-node cluster nothing else could take it. With two nodes Nomad
// places a linked replacement on the other one at once, which the engine
// adopts as the recovery.
func (h *harness) nomadPreempt(id int64, task int) {
	h.t.Helper()
	before, _ := h.job(id)
	c := h.nomad()
	a := h.runningAlloc(id, task)
	setEligible(h.t, c, a.NodeID, false)
	defer setEligible(h.t, c, a.NodeID, true)
	if _, err := c.Allocations().Stop(a, nil); err != nil {
		h.t.Fatalf("stopping alloc %s: %v", a.ID, err)
	}
	j := h.waitJob(id, "RECOVERING", func(j api.Job) bool {
		return j.Status == api.StatusRecovering || j.Tasks[task].Recoveries > before.Tasks[task].Recoveries
	})
	h.t.Logf("job %d: stopped alloc %s on node %s (ineligible until now); job %s, attempt %d", id, a.ID, a.NodeName, j.Status, j.Tasks[task].Attempt)
}

// checkNomadJob asserts what `nomad job status` shows of task of job id
// after it ran attempts times: the Nomad job sky-<id>-<task> in the test's
// namespace carries skynomad's meta, and every attempt is one of its
// allocations, in a job version of an attempt.
func (h *harness) checkNomadJob(id int64, task, attempts int) {
	h.t.Helper()
	c := h.nomad()
	jid := nomadJobID(id, task)
	job, _, err := c.Jobs().Info(jid, nil)
	if err != nil {
		h.t.Fatalf("nomad job status %s: %v", jid, err)
	}
	for k, want := range map[string]string{"sky.job_id": strconv.FormatInt(id, 10), "sky.task": strconv.Itoa(task)} {
		if got := job.Meta[k]; got != want {
			h.t.Errorf("Nomad job %s meta %s = %q, want %q", jid, k, got, want)
		}
	}
	inRange := func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && n >= 1 && n <= attempts
	}
	if !inRange(job.Meta["sky.attempt"]) {
		h.t.Errorf("Nomad job %s meta sky.attempt = %q, want 1..%d", jid, job.Meta["sky.attempt"], attempts)
	}
	versions, _, _, err := c.Jobs().Versions(jid, false, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	var seen []string
	for _, v := range versions {
		seen = append(seen, v.Meta["sky.attempt"])
		if !inRange(v.Meta["sky.attempt"]) {
			h.t.Errorf("Nomad job %s version %d: sky.attempt %q, want 1..%d", jid, *v.Version, v.Meta["sky.attempt"], attempts)
		}
	}
	if !slices.Contains(seen, "1") {
		h.t.Errorf("Nomad job %s: no version of attempt 1 among %v", jid, seen)
	}
	stubs, _, err := c.Jobs().Allocations(jid, true, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	ran := 0
	for _, s := range stubs {
		if ts := s.TaskStates["run"]; ts != nil && !ts.StartedAt.IsZero() {
			ran++
		}
	}
	if ran != attempts {
		h.t.Errorf("Nomad job %s: %d allocations ran the task, want one per attempt (%d); versions' attempts %v", jid, ran, attempts, seen)
	}
}
