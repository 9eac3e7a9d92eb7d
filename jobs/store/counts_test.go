package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/jobs/api"
)

func TestCountByStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))

	got, err := s.CountByStatus(ctx, KindJob)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[api.Status]int{}, got); diff != "" {
		t.Errorf("empty store (-want +got):\n%s", diff)
	}

	for _, st := range []api.Status{api.StatusRunning, api.StatusRunning, api.StatusPending, api.StatusSucceeded} {
		createOne(t, s, "train", "alice", st)
	}
	w, wt := newJob("worker", "alice", api.StatusRunning)
	w.Kind, w.Pool = KindWorker, "batch"
	if _, err := s.CreateJobs(ctx, []Job{w}, [][]Task{wt}); err != nil {
		t.Fatal(err)
	}
	// A saved status change moves a job from one count to another.
	id := createOne(t, s, "eval", "bob", api.StatusPending)
	rec, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Job.Status = api.StatusFailed
	if err := s.Save(ctx, Change{Job: &rec.Job}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		kind string
		want map[api.Status]int
	}{
		{KindJob, map[api.Status]int{api.StatusRunning: 2, api.StatusPending: 1, api.StatusSucceeded: 1, api.StatusFailed: 1}},
		{KindWorker, map[api.Status]int{api.StatusRunning: 1}},
	} {
		got, err := s.CountByStatus(ctx, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("kind %q (-want +got):\n%s", tc.kind, diff)
		}
	}
}

func TestObserverTimesOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	id := createOne(t, s, "train", "alice", api.StatusPending)

	var ops []string
	s.SetObserver(func(op string, d time.Duration) {
		if d <= 0 {
			t.Errorf("%s took %v", op, d)
		}
		ops = append(ops, op)
	})
	rec, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, Change{Job: &rec.Job}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.List(ctx, Filter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CountByStatus(ctx, KindJob); err != nil {
		t.Fatal(err)
	}
	// A failed operation is timed too.
	missing := rec.Job
	missing.ID = id + 100
	if err := s.Save(ctx, Change{Job: &missing}); !IsNotFound(err) {
		t.Fatalf("save of a missing job: %v, want not found", err)
	}
	if diff := cmp.Diff([]string{"get", "save", "list", "count", "save"}, ops); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}

	s.SetObserver(nil)
	if _, err := s.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 5 {
		t.Errorf("observer told after SetObserver(nil): %v", ops)
	}
}
