package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/skynomad/skynomad/task"
)

// TestPoolsSurviveReopening: a pool written is read back whole after the
// database is closed and opened again; a deleted one is gone.
func TestPoolsSurviveReopening(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	dag := task.DAG{Name: "p", Tasks: []task.Task{{Name: "w", Setup: "true", Pool: &task.PoolSpec{Workers: 2}}}}
	want := Pool{Name: "p", User: "ada", DAG: dag, Version: 3, Workers: 2, State: PoolFailed,
		FailureReason: "worker 4: setup failed", FailedWorker: 4, CreatedAt: now, UpdatedAt: now.Add(time.Minute)}
	if err := s.PutPool(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPool(ctx, Pool{Name: "q", DAG: dag, State: PoolActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePool(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Pools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d pools, want 1: %+v", len(got), got)
	}
	g := got[0]
	if g.Name != want.Name || g.Version != 3 || g.Workers != 2 || g.State != PoolFailed || g.FailedWorker != 4 ||
		g.FailureReason != want.FailureReason || !g.UpdatedAt.Equal(want.UpdatedAt) || g.DAG.Tasks[0].Pool.Workers != 2 {
		t.Errorf("read back %+v, want %+v", g, want)
	}
}
