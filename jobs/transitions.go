package jobs

import (
	"errors"
	"fmt"
	"slices"

	"github.com/skynomad/skynomad/jobs/api"
)

// Transitions is the status machine of a managed task: from each
// non-terminal status, the statuses it may move to. Terminal statuses move
// nowhere. A job's status is its current task's status.
//
//	PENDING    → STARTING           a launch slot was granted (first launch)
//	PENDING    → RECOVERING         a slot was granted after a backoff, for a task that ran before
//	PENDING    → CANCELLED          cancelled before anything was launched (no cleanup needed)
//	PENDING    → CANCELLING         cancelled while an earlier attempt is still being cleaned up
//	PENDING    → FAILED_PRECHECKS   nothing in the catalog or engine can run it
//	STARTING   → RUNNING            the attempt was placed (or setup/run started)
//	STARTING   → RECOVERING         the attempt was lost before it started
//	STARTING   → PENDING            every candidate lacked capacity: back off, retry
//	STARTING   → FAILED_NO_RESOURCE launch retries exhausted
//	STARTING   → FAILED_PRECHECKS   the engine refused the attempt as infeasible
//	RUNNING    → SUCCEEDED          run exited 0
//	RUNNING    → FAILED             run exited non-zero, no restarts left
//	RUNNING    → FAILED_SETUP       setup exited non-zero, no restarts left
//	RUNNING    → RECOVERING         preempted (also when the engine relaunched it by
//	                                itself), or restarting after an error
//	RECOVERING → RUNNING            the new attempt was placed
//	RECOVERING → PENDING            every candidate lacked capacity: back off, retry
//	RECOVERING → FAILED_NO_RESOURCE launch retries exhausted
//	RECOVERING → FAILED_PRECHECKS   nothing can run it any more
//	*          → CANCELLING         cancel requested, or the attempt was stopped outside skynomad
//	CANCELLING → CANCELLED          the attempt is gone
//	*          → FAILED_CONTROLLER  unexpected controller error (any non-terminal status)
var Transitions = map[api.Status][]api.Status{
	api.StatusPending: {
		api.StatusStarting, api.StatusRecovering, api.StatusCancelled, api.StatusCancelling,
		api.StatusFailedPrechecks, api.StatusFailedController,
	},
	api.StatusStarting: {
		api.StatusRunning, api.StatusRecovering, api.StatusPending, api.StatusCancelling,
		api.StatusFailedNoResource, api.StatusFailedPrechecks, api.StatusFailedController,
	},
	api.StatusRunning: {
		api.StatusSucceeded, api.StatusFailed, api.StatusFailedSetup, api.StatusRecovering,
		api.StatusCancelling, api.StatusFailedController,
	},
	api.StatusRecovering: {
		api.StatusRunning, api.StatusPending, api.StatusCancelling,
		api.StatusFailedNoResource, api.StatusFailedPrechecks, api.StatusFailedController,
	},
	api.StatusCancelling: {
		api.StatusCancelled, api.StatusFailedController,
	},
}

// TransitionError says a status change is not in the table.
type TransitionError struct {
	From, To api.Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal status transition %s → %s", e.From, e.To)
}

// IsTransitionError reports whether err is (or wraps) a TransitionError.
func IsTransitionError(err error) bool {
	var te *TransitionError
	return errors.As(err, &te)
}

// CheckTransition returns nil if from → to is legal, else a *TransitionError.
// Staying in the same status is not a transition and is refused too; callers
// skip it.
func CheckTransition(from, to api.Status) error {
	if slices.Contains(Transitions[from], to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}
