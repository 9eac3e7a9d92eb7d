package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/enginetest"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// FillStore writes n finished and running jobs straight into the store:
// every tenth RUNNING (user bob), the rest SUCCEEDED (user alice).
func FillStore(tb testing.TB, st *store.Store, n int, now time.Time) {
	tb.Helper()
	const batch = 2000
	for start := 0; start < n; start += batch {
		var jobs []store.Job
		var tasks [][]store.Task
		for i := start; i < min(start+batch, n); i++ {
			dag := oneTask(fmt.Sprintf("job-%d", i))
			j := store.Job{Name: dag.Name, User: "alice", Status: api.StatusSucceeded, NumJobs: 1, DAG: dag,
				SubmittedAt: now.Add(-time.Hour), StartedAt: now.Add(-50 * time.Minute), EndedAt: now.Add(-10 * time.Minute)}
			code := 0
			tk := store.Task{Name: dag.Name, Status: api.StatusSucceeded, Requested: "1x [CPU:1+]", Attempt: 1,
				SubmittedAt: j.SubmittedAt, StartedAt: j.StartedAt, EndedAt: j.EndedAt, RunTime: 40 * time.Minute,
				ExitCode: &code, Choice: &catalog.Choice{Spot: true, Offering: TestOfferings[0]},
				Spent: 0.02, OnDemand: 0.0667}
			if i%10 == 0 {
				j.User, j.Status, j.EndedAt = "bob", api.StatusRunning, time.Time{}
				tk.Status, tk.EndedAt, tk.ExitCode = api.StatusRunning, time.Time{}, nil
				tk.RunTime, tk.RunningSince, tk.Recoveries = 5*time.Minute, now.Add(-20*time.Minute), 2
				tk.BilledSince, tk.Rate, tk.OnDemandRate = now.Add(-20*time.Minute), 0.03, 0.1
			}
			jobs = append(jobs, j)
			tasks = append(tasks, []store.Task{tk})
		}
		ids, err := st.CreateJobs(context.Background(), jobs, tasks)
		if err != nil {
			tb.Fatal(err)
		}
		// A running job has its live attempt, as a controller leaves it.
		var ch store.Change
		for k, id := range ids {
			if jobs[k].Status == api.StatusRunning {
				ch.Attempts = append(ch.Attempts, store.Attempt{JobID: id, Task: 0, Number: 1, State: store.AttemptLaunched,
					Choice: *tasks[k][0].Choice, CreatedAt: jobs[k].StartedAt, LaunchedAt: jobs[k].StartedAt, PlacedAt: jobs[k].StartedAt})
			}
		}
		if err := st.Save(context.Background(), ch); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestQueue10k(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, func(c *Config) { c.Clock = func() time.Time { return now } })
	n := 10000
	if raceEnabled {
		n = 1000
	}
	FillStore(t, h.store, n, now)
	// A restarted controller loads its queue view from the store. Its
	// engine lost the running attempts: they are launched again and stay
	// running.
	h.ctl.Stop()
	h.eng.SetScript(nil)
	h.start()
	ctx := context.Background()

	res, err := h.ctl.Queue(ctx, api.QueueRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	all := res.Jobs
	if len(all) != n {
		t.Fatalf("%d jobs, want %d", len(all), n)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first at %d: %d after %d", i, all[i].ID, all[i-1].ID)
		}
	}
	first := all[len(all)-1] // job 0: running
	wantTask := api.Task{
		Index: 0, Name: "job-0", Status: api.StatusRunning, Requested: "1x [CPU:1+]",
		SubmittedAt: ptr(now.Add(-time.Hour)), StartedAt: ptr(now.Add(-50 * time.Minute)),
		TotalDuration: api.Duration(time.Hour), JobDuration: api.Duration(25 * time.Minute), Recoveries: 2, Attempt: 1,
		Infra: "aws/us-east-1", Instance: "m6i.large", Spot: true, NumJobs: 1,
		// $0.02 of ended attempts, and 20 minutes of the live one at $0.03
		// an hour ($0.10 on-demand).
		Cost: &api.Cost{Spent: 0.03, OnDemand: 0.0667 + 0.1/3, Savings: 0.0667 + 0.1/3 - 0.03},
	}
	if diff := cmp.Diff(wantTask, first.Tasks[0], cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("task of job 0 (-want +got):\n%s", diff)
	}
	if first.JobDuration != api.Duration(25*time.Minute) || first.TotalDuration != api.Duration(time.Hour) ||
		first.Recoveries != 2 || first.User != "bob" {
		t.Errorf("job 0: duration %s of %s, recoveries %d user %s",
			time.Duration(first.JobDuration), time.Duration(first.TotalDuration), first.Recoveries, first.User)
	}

	// Whatever rows a request selects, InProgress counts every unfinished
	// job of its user (of every user without one): the summary line. (The
	// restarted controller is recovering bob's jobs: count them whatever
	// their status.)
	for _, tc := range []struct {
		name           string
		req            api.QueueRequest
		wantJobs       int
		wantInProgress int
	}{
		{"default: in progress and recent", api.QueueRequest{}, n/10 + h.ctl.cfg.RecentFinished, n / 10},
		{"skip finished", api.QueueRequest{SkipFinished: true}, n / 10, n / 10},
		{"one user", api.QueueRequest{All: true, User: "alice"}, n - n/10, 0},
		{"limit", api.QueueRequest{All: true, Limit: 7}, 7, n / 10},
		{"limit of a user", api.QueueRequest{User: "bob", Limit: 2}, 2, n / 10},
		{"ids", api.QueueRequest{JobIDs: []int64{1, 2, 3, 99999}}, 3, n / 10},
		{"ids of finished jobs", api.QueueRequest{JobIDs: []int64{2, 3}, User: "alice"}, 2, 0},
		{"ids of another user's", api.QueueRequest{JobIDs: []int64{2, 3}, User: "bob"}, 0, n / 10},
	} {
		res, err := h.ctl.Queue(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Jobs); got != tc.wantJobs {
			t.Errorf("%s: %d jobs, want %d", tc.name, got, tc.wantJobs)
		}
		inProgress := 0
		for status, k := range res.InProgress {
			if status.Terminal() {
				t.Errorf("%s: %d %s jobs counted in progress", tc.name, k, status)
			}
			inProgress += k
		}
		if inProgress != tc.wantInProgress || res.InProgress == nil {
			t.Errorf("%s: %d jobs in progress (%v), want %d", tc.name, inProgress, res.InProgress, tc.wantInProgress)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestQueueViewMatchesStore checks the in-memory queue against the store
// for many filters, with a view too small to hold every finished job, while
// jobs are submitted and finish.
func TestQueueViewMatchesStore(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, func(c *Config) {
		c.Clock = func() time.Time { return now }
		c.ViewSize = 30
		c.RecentFinished = 7
	})
	FillStore(t, h.store, 200, now)
	h.ctl.Stop()
	h.start()
	// Every third new job stays RUNNING; the others succeed.
	h.eng.SetScript(func(a engine.Attempt) []engine.Event {
		if a.Ref.JobID%3 == 0 {
			return enginetest.Place(a)
		}
		return enginetest.Succeed(a)
	})
	for i := range 40 {
		id := h.submit(oneTask(fmt.Sprintf("new-%d", i)))
		h.wait(id, "running or done", func(j api.Job) bool {
			return j.Status == api.StatusRunning || j.Status.Terminal()
		})
	}
	h.sync()
	ctx := context.Background()
	for _, req := range []api.QueueRequest{
		{}, {All: true}, {SkipFinished: true}, {User: "bob"}, {User: "alice", All: true},
		{All: true, Limit: 5}, {All: true, Limit: 500}, {Limit: 3}, {JobIDs: []int64{1, 150, 239}},
		{JobIDs: []int64{235, 236}}, {User: "nobody"},
	} {
		res, err := h.ctl.Queue(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Jobs
		f := store.Filter{IDs: req.JobIDs, User: req.User, Active: req.SkipFinished, Limit: req.Limit}
		if !req.All && !req.SkipFinished && len(req.JobIDs) == 0 {
			f.RecentFinished = 7
		}
		jobs, tasks, err := h.store.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]api.Job, len(jobs))
		for i := range jobs {
			want[i] = toAPI(&jobs[i], tasks[jobs[i].ID], now)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("Queue(%+v) differs from the store (-store +view):\n%s", req, diff)
		}
		active, _, err := h.store.List(ctx, store.Filter{Active: true, User: req.User})
		if err != nil {
			t.Fatal(err)
		}
		wantInProgress := map[api.Status]int{}
		for _, j := range active {
			wantInProgress[j.Status]++
		}
		if len(wantInProgress) == 0 && req.User != "nobody" {
			t.Fatalf("Queue(%+v): no job in progress to count", req)
		}
		if diff := cmp.Diff(wantInProgress, res.InProgress); diff != "" {
			t.Errorf("Queue(%+v) in progress differs from the store (-store +view):\n%s", req, diff)
		}
	}
}
