package nomad

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
)

// TestRealNomad runs a tiny raw_exec job through the engine on the Nomad
// agent at NOMAD_ADDR (a client with raw_exec enabled is needed).
func TestRealNomad(t *testing.T) {
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Skip("NOMAD_ADDR is not set: no Nomad agent to run against (no Nomad server is installable here)")
	}
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	render := func(a *engine.Attempt) (*api.Job, error) {
		job, err := testRender(a)
		job.Datacenters = []string{"*"}
		return job, err
	}
	eng, err := New(Config{Client: client, Render: render, Sink: rec.sink, PollInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	a := attempt(time.Now().Unix(), 1, "echo preparing", "echo hello-from-skynomad; exit 3", 1)
	jobID := JobID(a.Ref)
	t.Cleanup(func() {
		_, _, _ = client.Jobs().Deregister(jobID, true, nil)
		_, _ = client.Variables().Delete(StopVarPrefix+jobID, nil)
	})
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	ev := rec.waitWithin(t, a.Ref, engine.EventExited, 2*time.Minute)
	if ev.Phase != engine.PhaseRun || ev.ExitCode != 3 {
		t.Errorf("exited %+v, want run phase with code 3", ev)
	}
	r, err := eng.Logs(ctx, a.Ref, engine.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	for _, want := range []string{"preparing", "hello-from-skynomad"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("logs %q lack %q", b, want)
		}
	}
}
