package e2e

import (
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"
)

// nomadNamespace creates a Nomad namespace for one test (on the cluster
// NOMAD_ADDR names) and, when the test ends, purges its jobs and deletes
// it.
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
		if _, err := c.Namespaces().Delete(ns, nil); err != nil {
			t.Logf("deleting Nomad namespace %s: %v", ns, err)
		}
	})
	return ns
}
