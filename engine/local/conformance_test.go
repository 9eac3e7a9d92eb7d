package local_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/engine/local"
)

// TestConformance runs the engine conformance suite on the local engine:
// real runners (this test binary as `driver`, see TestMain) in a fresh
// state dir; a restart is a new engine over the same dir.
func TestConformance(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, dir string, sink engine.Sink, refs []engine.Ref) *trackedEngine {
		e, err := local.New(local.Config{
			Dir: dir, RunnerCommand: []string{self, "driver"}, Sink: sink,
			Grace: 2 * time.Second, PollInterval: 20 * time.Millisecond, HostCPUs: 4, HostMemoryGB: 16,
		})
		if err != nil {
			t.Fatal(err)
		}
		te := &trackedEngine{Engine: e, dir: dir, refs: refs}
		t.Cleanup(te.cleanUp)
		return te
	}
	enginetest.Run(t, enginetest.Harness{
		Start: func(t *testing.T, sink engine.Sink) engine.Engine {
			return start(t, t.TempDir(), sink, nil)
		},
		Restart: func(t *testing.T, old engine.Engine, sink engine.Sink) engine.Engine {
			o := old.(*trackedEngine)
			return start(t, o.dir, sink, o.retire())
		},
		Timeout: time.Minute,
	})
}

// trackedEngine is a local engine that remembers what it launched, so
// that nothing the suite started outlives the test.
type trackedEngine struct {
	*local.Engine
	dir string

	mu      sync.Mutex
	refs    []engine.Ref
	retired bool
	closed  sync.Once
}

func (e *trackedEngine) Launch(ctx context.Context, a *engine.Attempt) error {
	e.mu.Lock()
	e.refs = append(e.refs, a.Ref)
	e.mu.Unlock()
	return e.Engine.Launch(ctx, a)
}

// retire closes the engine, leaving its attempts to the engine that takes
// over its state dir, and returns them.
func (e *trackedEngine) retire() []engine.Ref {
	e.mu.Lock()
	e.retired = true
	refs := e.refs
	e.mu.Unlock()
	e.closed.Do(func() { e.Close() })
	return refs
}

// cleanUp stops every attempt the engine launched (a sweep for the ended
// ones), then closes it.
func (e *trackedEngine) cleanUp() {
	e.mu.Lock()
	refs, retired := e.refs, e.retired
	e.mu.Unlock()
	if !retired {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, ref := range refs {
			_ = e.Stop(ctx, ref)
		}
	}
	e.closed.Do(func() { e.Close() })
}
