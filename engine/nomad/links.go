package nomad

import (
	"context"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

var (
	_ engine.Linker     = (*Engine)(nil)
	_ engine.NodeLister = (*Engine)(nil)
)

// uiBase is the Nomad UI's address: the API's, whose agents serve /ui/.
func (e *Engine) uiBase() string {
	return strings.TrimRight(e.client.Address(), "/") + "/ui"
}

// Links points at the attempt's Nomad job and its allocations in the
// Nomad UI.
func (e *Engine) Links(ref engine.Ref) []engine.Link {
	id := naming.JobID(ref.JobID, ref.Task)
	ns := os.Getenv("NOMAD_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	job := e.uiBase() + "/jobs/" + url.PathEscape(id+"@"+ns)
	return []engine.Link{
		{Title: "Nomad job " + id, URL: job},
		{Title: "allocations", URL: job + "/allocations"},
	}
}

// Nodes lists the cluster's client nodes: booting (initializing), ready or
// down, with their node class.
func (e *Engine) Nodes(ctx context.Context) ([]engine.NodeInfo, error) {
	stubs, _, err := e.client.Nodes().List((&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]engine.NodeInfo, 0, len(stubs))
	for _, n := range stubs {
		out = append(out, engine.NodeInfo{
			Name: n.Name, Class: n.NodeClass, Status: n.Status, Drain: n.Drain,
			Spot: strings.HasSuffix(n.NodeClass, "-spot"),
			Link: e.uiBase() + "/clients/" + url.PathEscape(n.ID),
		})
	}
	return out, nil
}
