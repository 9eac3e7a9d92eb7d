package enginetest

import (
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
)

// TestFakeConformance runs the suite on Fake, each behavior played as the
// events a real engine would send: the controller's tests may only rely on
// the fake where it keeps the contract real engines keep.
func TestFakeConformance(t *testing.T) {
	t.Parallel()
	var behaviors sync.Map // engine.Ref → Behavior
	play := func(f *Fake) func(a engine.Attempt) []engine.Event {
		return func(a engine.Attempt) []engine.Event {
			b, _ := behaviors.Load(a.Ref)
			switch b {
			case Hello:
				f.Print(a.Ref, Output+"\n")
				return Succeed(a)
			case RunExits7:
				return Exit(a, engine.PhaseRun, 7)
			case SetupExits3:
				return Exit(a, engine.PhaseSetup, 3)
			case RunsUntilStopped:
				return Place(a)
			}
			t.Errorf("attempt %s has no behavior", a.Ref)
			return nil
		}
	}
	Run(t, Harness{
		Start: func(t *testing.T, sink engine.Sink) engine.Engine {
			f := NewFake(sink)
			f.SetScript(play(f))
			return f
		},
		Attempt: func(_ *testing.T, ref engine.Ref, b Behavior) *engine.Attempt {
			behaviors.Store(ref, b)
			return ShellAttempt(ref, b)
		},
		Restart: func(_ *testing.T, old engine.Engine, sink engine.Sink) engine.Engine {
			f := old.(*Fake)
			f.SetSink(sink)
			return f
		},
		Timeout: 10 * time.Second,
	})
}
