package apm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/sdk"

	"github.com/skynomad/skynomad/jobs/api"
)

type controller struct {
	calls int
	d     api.Demand
	err   error
}

func (c *controller) Demand(context.Context) (api.Demand, error) {
	c.calls++
	return c.d, c.err
}

func TestQuery(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	ctl := &controller{d: api.Demand{Nodes: map[string]int{"sky-aws-us-east-1-m6i.large-spot": 3}}}
	p := New(hclog.NewNullLogger())
	p.now = func() time.Time { return now }
	p.Use(ctl, time.Second)

	tests := []struct {
		query string
		want  float64
	}{
		{"demand/sky-aws-us-east-1-m6i.large-spot", 3},
		// No demand is a point at 0, never "no metrics": the pass-through
		// strategy then scales the offering to zero.
		{"demand/sky-gcp-us-central1-n2-standard-8-on-demand", 0},
	}
	for _, tt := range tests {
		got, err := p.Query(tt.query, sdk.TimeRange{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Value != tt.want || !got[0].Timestamp.Equal(now) {
			t.Errorf("Query(%q) = %v; want one point %v at %s", tt.query, got, tt.want, now)
		}
	}
	if ctl.calls != 1 {
		t.Errorf("%d calls to the controller within the cache period; want 1", ctl.calls)
	}
	now = now.Add(2 * time.Second)
	if _, err := p.Query("demand/x", sdk.TimeRange{}); err != nil || ctl.calls != 2 {
		t.Errorf("after the cache period: %v, %d calls; want a second call", err, ctl.calls)
	}

	if _, err := p.Query("cpu/sky-x", sdk.TimeRange{}); err == nil || !strings.Contains(err.Error(), "want demand/<node class>") {
		t.Errorf("a query of another kind: %v", err)
	}
	ctl.err = errors.New("connection refused")
	now = now.Add(2 * time.Second)
	if _, err := p.Query("demand/x", sdk.TimeRange{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("controller down: %v; want its error", err)
	}
}

func TestSetConfig(t *testing.T) {
	t.Parallel()
	p := New(hclog.NewNullLogger())
	if err := p.SetConfig(map[string]string{}); err == nil || !strings.Contains(err.Error(), "controller_address: required") {
		t.Errorf("no address: %v", err)
	}
	if err := p.SetConfig(map[string]string{KeyControllerAddress: "http://127.0.0.1:7780", KeyCache: "soon"}); err == nil ||
		!strings.Contains(err.Error(), `cache: "soon"`) {
		t.Errorf("bad cache: %v", err)
	}
	if err := p.SetConfig(map[string]string{KeyControllerAddress: "http://127.0.0.1:7780"}); err != nil {
		t.Errorf("good config: %v", err)
	}
	info, _ := p.PluginInfo()
	if info.Name != "skynomad-apm" || info.PluginType != sdk.PluginTypeAPM {
		t.Errorf("PluginInfo = %+v; the agent loads the plugin only under its driver name", info)
	}
}
