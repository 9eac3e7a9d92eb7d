package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/policy"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
	"github.com/skynomad/skynomad/ui"
)

// policiesRun runs `autoscaler policies` into dir with the controller's
// pools given by list (nil: --pools=none) and returns what it printed.
func policiesRun(t *testing.T, dir string, list func(context.Context) ([]api.Pool, error)) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &policiesOptions{
		out: dir, pools: poolsAuto, ui: ui.New(strings.NewReader(""), &out, &errOut), controller: "unix:///nowhere/controller.sock",
		opts: policy.Options{Infra: []string{"aws/us-east-1"}, InstanceTypes: []string{"m6i.large"}, Capacity: []string{"spot"},
			MaxNodes: 4, EvaluationInterval: 10 * time.Second, Cooldown: time.Minute, NodeDrainDeadline: 5 * time.Minute},
		listPools: list,
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("policies: %v\nstderr: %s", err, errOut.String())
	}
	return out.String(), errOut.String()
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// TestPoliciesOfPools: beside the offerings' policies, one per pool the
// controller has on a provisioned cloud; a pool that is gone keeps its
// file, at zero nodes; pools the autoscaler cannot provision are named.
func TestPoliciesOfPools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p4d := catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge"}
	pools := []api.Pool{
		{Name: "gpus", Status: api.PoolReady, Workers: 2, Choice: &catalog.Choice{Offering: p4d, Spot: true}},
		{Name: "old", Status: api.PoolShuttingDown, Workers: 3, Choice: &catalog.Choice{Offering: p4d}},
		{Name: "here", Status: api.PoolReady, Workers: 1, Choice: &catalog.Choice{Offering: catalog.Offering{Cloud: "local", Region: "local", InstanceType: "local"}}},
		{Name: "new", Status: api.PoolProvisioning, Workers: 1},
	}
	stdout, stderr := policiesRun(t, dir, func(context.Context) ([]api.Pool, error) { return pools, nil })
	want := []string{"sky-aws-us-east-1-m6i.large-spot.hcl", "sky-pool-gpus.hcl", "sky-pool-old.hcl"}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if want := "wrote 1 policies to " + dir + "\nwrote 2 worker pool policies to " + dir + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	for _, w := range []string{
		"Warning: pool here: no policy: its workers run on local, which skynomad-target does not provision",
		"Warning: pool new: no policy: it has no placement yet",
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	for name, want := range map[string]policy.Pool{
		"gpus": {Name: "gpus", Workers: 2, Offering: policyOffering(p4d, true)},
		"old":  {Name: "old", Workers: 0, Offering: policyOffering(p4d, false)},
	} {
		got, err := policy.ReadPool(filepath.Join(dir, policy.PoolFile(name)))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pool %s's policy (-want +got):\n%s", name, diff)
		}
	}

	// gpus taken down and gone from the controller.
	stdout, _ = policiesRun(t, dir, func(context.Context) ([]api.Pool, error) { return nil, nil })
	if !strings.Contains(stdout, "pool gpus is gone: its policy keeps 0 nodes; delete "+filepath.Join(dir, "sky-pool-gpus.hcl")+" once they are gone") {
		t.Errorf("stdout does not retire gpus:\n%s", stdout)
	}
	if got, err := policy.ReadPool(filepath.Join(dir, "sky-pool-gpus.hcl")); err != nil || got.Workers != 0 {
		t.Errorf("gpus's policy keeps %d nodes (%v), want 0", got.Workers, err)
	}
}

// TestPoliciesWithoutController: a controller that does not answer leaves
// the pools' policies as they are; --pools=none does not ask.
func TestPoliciesWithoutController(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policiesRun(t, dir, func(context.Context) ([]api.Pool, error) {
		return []api.Pool{{Name: "gpus", Workers: 2, Choice: &catalog.Choice{Offering: catalog.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge"}}}}, nil
	})
	before, err := os.ReadFile(filepath.Join(dir, "sky-pool-gpus.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr := policiesRun(t, dir, func(context.Context) ([]api.Pool, error) {
		return nil, &client.UnreachableError{Addr: "unix:///nowhere/controller.sock", Err: errors.New("connection refused")}
	})
	if want := "Warning: no controller answers at unix:///nowhere/controller.sock: the worker pools' policies in " + dir + " are left as they are"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "sky-pool-gpus.hcl")); string(after) != string(before) {
		t.Errorf("an unreachable controller changed a pool's policy")
	}
	stdout, _ := policiesRun(t, t.TempDir(), nil)
	if strings.Contains(stdout, "pool") {
		t.Errorf("--pools=none wrote pool policies: %q", stdout)
	}
}

func TestPoliciesRefusesPoolsFlag(t *testing.T) {
	t.Parallel()
	o := &policiesOptions{out: t.TempDir(), pools: "all"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--pools all: want auto or none") {
		t.Errorf("Validate = %v", err)
	}
}

func policyOffering(o catalog.Offering, spot bool) cloud.Offering {
	return cloud.Offering{Cloud: o.Cloud, Region: o.Region, InstanceType: o.InstanceType, Spot: spot}
}
