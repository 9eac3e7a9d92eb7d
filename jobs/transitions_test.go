package jobs

import (
	"testing"

	"github.com/skynomad/skynomad/jobs/api"
)

func TestTransitionTable(t *testing.T) {
	t.Parallel()
	// The legal moves, written out from the reference (§1) independently
	// of the table in transitions.go.
	legal := map[[2]api.Status]bool{}
	add := func(from api.Status, tos ...api.Status) {
		for _, to := range tos {
			legal[[2]api.Status{from, to}] = true
		}
	}
	add(api.StatusPending, api.StatusStarting, api.StatusRecovering, api.StatusCancelled)
	add(api.StatusStarting, api.StatusRunning, api.StatusRecovering, api.StatusPending,
		api.StatusFailedNoResource, api.StatusFailedPrechecks)
	add(api.StatusPending, api.StatusFailedPrechecks)
	add(api.StatusRunning, api.StatusSucceeded, api.StatusFailed, api.StatusFailedSetup, api.StatusRecovering)
	add(api.StatusRecovering, api.StatusRunning, api.StatusPending, api.StatusFailedNoResource, api.StatusFailedPrechecks)
	add(api.StatusCancelling, api.StatusCancelled)
	for _, s := range api.AllStatuses {
		if !s.Terminal() {
			add(s, api.StatusFailedController)
			if s != api.StatusCancelling {
				add(s, api.StatusCancelling)
			}
		}
	}

	for _, from := range api.AllStatuses {
		for _, to := range api.AllStatuses {
			err := CheckTransition(from, to)
			want := legal[[2]api.Status{from, to}]
			if want && err != nil {
				t.Errorf("%s → %s refused (%v), want legal", from, to, err)
			}
			if !want && err == nil {
				t.Errorf("%s → %s allowed, want refused", from, to)
			}
			if !want && !IsTransitionError(err) {
				t.Errorf("%s → %s: error %v is not a TransitionError", from, to, err)
			}
		}
	}
}

func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, to api.Status }{
		{api.StatusSucceeded, api.StatusRunning},
		{api.StatusFailed, api.StatusRecovering},
		{api.StatusCancelled, api.StatusCancelling},
		{api.StatusFailedController, api.StatusFailedController},
		{api.StatusPending, api.StatusRunning},
		{api.StatusPending, api.StatusSucceeded},
		{api.StatusStarting, api.StatusSucceeded},
		{api.StatusStarting, api.StatusFailed},
		{api.StatusRunning, api.StatusPending},
		{api.StatusRunning, api.StatusCancelled},
		{api.StatusRunning, api.StatusFailedNoResource},
		{api.StatusRecovering, api.StatusSucceeded},
		{api.StatusCancelling, api.StatusRunning},
		{api.StatusCancelling, api.StatusSucceeded},
		{api.StatusRunning, api.StatusRunning},
	} {
		err := CheckTransition(tc.from, tc.to)
		if !IsTransitionError(err) {
			t.Errorf("%s → %s: got %v, want a TransitionError", tc.from, tc.to, err)
			continue
		}
		if want := "illegal status transition " + string(tc.from) + " → " + string(tc.to); err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	}
}
