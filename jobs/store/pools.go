package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/skynomad/skynomad/task"
)

// Pool is one row of the pools table: a worker pool as applied. Its
// workers are jobs of KindWorker with Job.Pool = Name.
type Pool struct {
	Name string
	User string
	// DAG is the pool file: one task with its pool: block.
	DAG task.DAG
	// Version grows with every apply that changes what a worker runs
	// (setup, envs, resources); workers of older versions are rolled.
	Version int
	// Workers is the number of workers asked for.
	Workers       int
	State         string
	FailureReason string
	// FailedWorker is the worker whose failure failed the pool (its log
	// holds the setup's output).
	FailedWorker int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Pool states as stored.
const (
	PoolActive = "active" // workers are kept at Workers
	PoolFailed = "failed" // setup failed again and again; workers stopped
	PoolDown   = "down"   // taken down; the row goes once no worker is left
)

// PutPool inserts or replaces a pool.
func (s *Store) PutPool(ctx context.Context, p Pool) error {
	dag, err := json.Marshal(p.DAG)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO pools (name, user_name, dag, version, workers, state,
		failure_reason, failed_worker, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.User, string(dag), p.Version, p.Workers, p.State, p.FailureReason, p.FailedWorker,
		p.CreatedAt.UnixNano(), p.UpdatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("store: put pool %s: %w", p.Name, err)
	}
	return nil
}

// DeletePool removes a pool's row.
func (s *Store) DeletePool(ctx context.Context, name string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM pools WHERE name = ?`, name); err != nil {
		return fmt.Errorf("store: delete pool %s: %w", name, err)
	}
	return nil
}

// Pools returns every pool, by name.
func (s *Store) Pools(ctx context.Context) ([]Pool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, user_name, dag, version, workers, state, failure_reason,
		failed_worker, created_at, updated_at FROM pools ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: pools: %w", err)
	}
	defer rows.Close()
	var out []Pool
	for rows.Next() {
		var p Pool
		var dag string
		var created, updated int64
		var version, workers sql.NullInt64
		if err := rows.Scan(&p.Name, &p.User, &dag, &version, &workers, &p.State, &p.FailureReason,
			&p.FailedWorker, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: pools: %w", err)
		}
		if err := json.Unmarshal([]byte(dag), &p.DAG); err != nil {
			return nil, fmt.Errorf("store: pool %s: bad dag: %w", p.Name, err)
		}
		p.Version, p.Workers = int(version.Int64), int(workers.Int64)
		p.CreatedAt, p.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
		out = append(out, p)
	}
	return out, rows.Err()
}
