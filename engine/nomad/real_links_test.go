package nomad

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/engine"
)

// The capacity page lists the real cluster's clients; the job page links
// an attempt into the Nomad UI at the agent's address.
func TestRealNodesAndLinks(t *testing.T) {
	client := realClient(t)
	eng := startReal(t, context.Background(), realConfig(t, client, func(engine.Event) {}, 0))
	nodes, err := eng.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, n := range nodes {
		if n.Name == "" || !strings.HasPrefix(n.Link, client.Address()+"/ui/clients/") {
			t.Errorf("node %+v: want a name and a link into the Nomad UI", n)
		}
		if n.Status == "ready" {
			ready++
		}
	}
	if ready == 0 {
		t.Fatalf("nodes %+v: want the test cluster's ready clients", nodes)
	}
	links := eng.Links(engine.Ref{JobID: 12, Task: 1, Attempt: 3})
	if len(links) != 2 || links[0].Title != "Nomad job sky-12-1" ||
		!strings.HasPrefix(links[0].URL, client.Address()+"/ui/jobs/sky-12-1@") || links[1].URL != links[0].URL+"/allocations" {
		t.Errorf("links %+v, want the Nomad UI's job and allocations pages of sky-12-1", links)
	}
	// The agent answers on that address (its UI is not compiled into a
	// build from the module proxy, so only the API is checked).
	resp, err := http.Get(client.Address() + "/v1/status/leader")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
