package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/internal/units"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

func TestAgo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		before time.Duration
		want   string
	}{
		{0, "a few secs ago"},
		{9 * time.Second, "a few secs ago"},
		{42 * time.Second, "42 secs ago"},
		{time.Minute, "1 min ago"},
		{50 * time.Minute, "50 mins ago"},
		{time.Hour + 59*time.Minute, "1 hr ago"},
		{2*time.Hour + 47*time.Minute, "2 hrs ago"},
		{30 * time.Hour, "1 day ago"},
		{6 * 24 * time.Hour, "6 days ago"},
		{15 * 24 * time.Hour, "2 weeks ago"},
		{95 * 24 * time.Hour, "3 months ago"},
		{800 * 24 * time.Hour, "2 years ago"},
		{-time.Minute, "a few secs ago"}, // a skewed clock
	}
	for _, tt := range tests {
		at := testNow.Add(-tt.before)
		if got := ago(&at, testNow); got != tt.want {
			t.Errorf("ago(now-%s) = %q, want %q", tt.before, got, tt.want)
		}
	}
	if got := ago(nil, testNow); got != "-" {
		t.Errorf("ago(nil) = %q, want -", got)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1400 * time.Millisecond, "1s"},
		{47*time.Minute + 45*time.Second, "47m 45s"},
		{2*time.Hour + 47*time.Minute + 18*time.Second, "2h 47m 18s"},
		{26*time.Hour + 5*time.Second, "1d 2h 0m 5s"},
	}
	for _, tt := range tests {
		if got := units.Duration(tt.d); got != tt.want {
			t.Errorf("duration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// sampleJobs is a queue as a controller would answer it, newest first.
func sampleJobs() []api.Job {
	at := func(d time.Duration) *time.Time { t := testNow.Add(-d); return &t }
	code := func(c int) *int { return &c }
	return []api.Job{
		{
			ID: 8, Name: "pipeline", User: "ada", Status: api.StatusRecovering, Pipeline: true,
			SubmittedAt: *at(50 * time.Minute), StartedAt: at(49 * time.Minute),
			TotalDuration: api.Duration(50 * time.Minute), JobDuration: api.Duration(40 * time.Minute), Recoveries: 1,
			Cost: &api.Cost{Spent: 6.1234, OnDemand: 16.32, Savings: 10.1966},
			Tasks: []api.Task{
				{Index: 0, Name: "train", Status: api.StatusRecovering, Requested: "1x [V100:8][Spot|On-demand]",
					SubmittedAt: at(50 * time.Minute), StartedAt: at(49 * time.Minute),
					TotalDuration: api.Duration(50 * time.Minute), JobDuration: api.Duration(40 * time.Minute), Recoveries: 1,
					Attempt: 2, Infra: "AWS (us-east-1)", Instance: "p3.16xlarge", Spot: true,
					Cost: &api.Cost{Spent: 6.1234, OnDemand: 16.32, Savings: 10.1966}},
				{Index: 1, Name: "eval", Status: api.StatusPending, Requested: "1x [T4:1]"},
			},
		},
		{
			ID: 3, Name: "flaky", User: "bob", Status: api.StatusRunning,
			SubmittedAt: *at(2*time.Hour + 47*time.Minute + 18*time.Second), StartedAt: at(2*time.Hour + 36*time.Minute),
			TotalDuration: api.Duration(2*time.Hour + 47*time.Minute + 18*time.Second),
			JobDuration:   api.Duration(2*time.Hour + 36*time.Minute + 18*time.Second),
			Tasks: []api.Task{{Index: 0, Name: "flaky", Status: api.StatusRunning, Requested: "1x [CPU:1+]", Restarts: 2, Attempt: 3,
				ExitCode: code(7), Infra: "Local", Instance: "local"}},
		},
		{
			ID: 2, Name: "big", User: "ada", Status: api.StatusFailedPrechecks,
			SubmittedAt: *at(3 * time.Hour), EndedAt: at(3 * time.Hour),
			FailureReason: "no offering fits: H100:8 is not offered by the local engine",
			Tasks:         []api.Task{{Index: 0, Name: "big", Status: api.StatusFailedPrechecks, Requested: "1x [H100:8]"}},
		},
		{
			ID: 1, Name: "hello", User: "ada", Status: api.StatusSucceeded, Pool: "workers",
			SubmittedAt: *at(26 * time.Hour), StartedAt: at(26 * time.Hour), EndedAt: at(26*time.Hour - 12*time.Second),
			TotalDuration: api.Duration(12 * time.Second), JobDuration: api.Duration(11 * time.Second),
			Tasks: []api.Task{{Index: 0, Name: "hello", Status: api.StatusSucceeded, Requested: "1x [CPU:1+]", ExitCode: code(0),
				Infra: "Local", Instance: "local", Attempt: 1}},
		},
	}
}

// sampleInProgress is what the controller counts besides sampleJobs' rows:
// jobs of other users, or beyond a limit.
func sampleInProgress() map[api.Status]int {
	return map[api.Status]int{api.StatusPending: 1, api.StatusRunning: 2, api.StatusRecovering: 1}
}

func TestQueueTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		jobs     []api.Job
		verbose  bool
		allUsers bool
	}{
		{"queue.txt", sampleJobs(), false, false},
		{"queue-verbose.txt", sampleJobs(), true, false},
		{"queue-no-failures.txt", []api.Job{sampleJobs()[0], sampleJobs()[3]}, false, false},
		{"queue-users.txt", sampleJobs(), false, true},
		{"queue-users-verbose.txt", sampleJobs(), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			u := ui.NewPlain(nil, &out, &out)
			u.Table(queueTable(tt.jobs, testNow, queueColumns{verbose: tt.verbose, users: tt.allUsers}))
			golden(t, tt.name, out.String())
		})
	}
}

func TestInProgressLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		counts map[api.Status]int
		want   string
	}{
		{map[api.Status]int{api.StatusRunning: 2, api.StatusPending: 1}, "In progress tasks: 1 PENDING, 2 RUNNING"},
		{map[api.Status]int{api.StatusCancelling: 1, api.StatusStarting: 3, api.StatusRecovering: 1},
			"In progress tasks: 3 STARTING, 1 RECOVERING, 1 CANCELLING"},
		{map[api.Status]int{}, "No in-progress managed jobs."},
		{nil, "No in-progress managed jobs."},
	}
	for _, tt := range tests {
		if got := inProgressLine(tt.counts); got != tt.want {
			t.Errorf("inProgressLine(%v) = %q, want %q", tt.counts, got, tt.want)
		}
	}
}
