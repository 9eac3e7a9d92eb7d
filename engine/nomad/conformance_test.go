package nomad

import (
	"context"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
)

// TestConformance runs the engine conformance suite on the Nomad agent at
// NOMAD_ADDR (skipped without one, failed in CI): each attempt is rendered
// by render.RenderJob and run by the agent's skypilot task-driver plugin.
// A restart is a new engine on the same cluster.
func TestConformance(t *testing.T) {
	client := realClient(t)
	start := func(t *testing.T, sink engine.Sink) engine.Engine {
		return startReal(t, context.Background(), realConfig(t, client, sink, time.Second))
	}
	enginetest.Run(t, enginetest.Harness{
		Start: start,
		Attempt: func(t *testing.T, ref engine.Ref, b enginetest.Behavior) *engine.Attempt {
			cleanUpReal(t, client, JobID(ref))
			return enginetest.ShellAttempt(ref, b)
		},
		Restart: func(t *testing.T, old engine.Engine, sink engine.Sink) engine.Engine {
			_ = old.(*Engine).Close()
			return start(t, sink)
		},
		Timeout: 2 * time.Minute,
	})
}
