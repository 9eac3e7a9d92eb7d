package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a job does not exist.
var ErrNotFound = errors.New("not found")

// Store is the controller's SQLite database.
type Store struct {
	w     *sql.DB // the one writer connection
	r     *sql.DB // read-only connections
	stmts struct {
		// Prepared once on the writer: parsing costs more than running.
		insertJob, updateJob, putTask, putAttempt *sql.Stmt
	}
	obs observer // SetObserver's function (observe.go)
}

// Write statements, prepared at Open.
const (
	sqlInsertJob = `INSERT INTO jobs (name, user_name, status, pool, priority, pipeline, dag,
		submitted_at, started_at, ended_at, failure_reason, job_rank, num_jobs, current_task, launch_retries,
		kind, pool_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateJob = `UPDATE jobs SET status = ?, started_at = ?, ended_at = ?,
		failure_reason = ?, current_task = ?, launch_retries = ? WHERE id = ?`
	sqlPutTask = `INSERT OR REPLACE INTO tasks (job_id, idx, name, status, requested, attempt,
		restarts, recoveries, exit_code, submitted_at, started_at, ended_at, run_ns, running_since,
		choice, infra, instance_type, spot, blocked, failure_reason,
		spent_usd, on_demand_usd, billed_since, rate_usd, on_demand_rate_usd)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlPutAttempt = `INSERT OR REPLACE INTO attempts (job_id, task_idx, attempt, choice, state,
		outcome, node, exit_code, created_at, launched_at, placed_at, ended_at, run_at,
		worker_job, worker_attempt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.stmts.insertJob, sqlInsertJob}, {&s.stmts.updateJob, sqlUpdateJob},
		{&s.stmts.putTask, sqlPutTask}, {&s.stmts.putAttempt, sqlPutAttempt},
	} {
		if *p.stmt, err = w.PrepareContext(ctx, p.sql); err != nil {
			w.Close()
			return nil, fmt.Errorf("store: %s: prepare: %w", path, err)
		}
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", "10000")
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.r = r
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// migrations are applied in order; a database remembers how many it has.
// Append only: never edit an applied migration.
var migrations = []string{
	`
CREATE TABLE jobs (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	name           TEXT    NOT NULL,
	user_name      TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	pool           TEXT    NOT NULL DEFAULT '',
	priority       INTEGER NOT NULL DEFAULT 0,
	pipeline       INTEGER NOT NULL DEFAULT 0,
	dag            TEXT    NOT NULL,
	submitted_at   INTEGER NOT NULL,
	started_at     INTEGER,
	ended_at       INTEGER,
	failure_reason TEXT    NOT NULL DEFAULT '',
	job_rank       INTEGER NOT NULL DEFAULT 0,
	num_jobs       INTEGER NOT NULL DEFAULT 1,
	current_task   INTEGER NOT NULL DEFAULT 0,
	launch_retries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs(status);
CREATE INDEX jobs_by_user ON jobs(user_name);
CREATE INDEX jobs_by_name ON jobs(name);
CREATE INDEX jobs_by_pool ON jobs(pool);

CREATE TABLE tasks (
	job_id         INTEGER NOT NULL REFERENCES jobs(id),
	idx            INTEGER NOT NULL,
	name           TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	requested      TEXT    NOT NULL DEFAULT '',
	attempt        INTEGER NOT NULL DEFAULT 0,
	restarts       INTEGER NOT NULL DEFAULT 0,
	recoveries     INTEGER NOT NULL DEFAULT 0,
	exit_code      INTEGER,
	submitted_at   INTEGER,
	started_at     INTEGER,
	ended_at       INTEGER,
	run_ns         INTEGER NOT NULL DEFAULT 0,
	running_since  INTEGER,
	choice         TEXT,
	infra          TEXT    NOT NULL DEFAULT '',
	instance_type  TEXT    NOT NULL DEFAULT '',
	spot           INTEGER NOT NULL DEFAULT 0,
	blocked        TEXT,
	failure_reason TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;

CREATE TABLE attempts (
	job_id      INTEGER NOT NULL,
	task_idx    INTEGER NOT NULL,
	attempt     INTEGER NOT NULL,
	choice      TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	outcome     TEXT    NOT NULL DEFAULT '',
	node        TEXT    NOT NULL DEFAULT '',
	exit_code   INTEGER,
	created_at  INTEGER NOT NULL,
	launched_at INTEGER,
	placed_at   INTEGER,
	ended_at    INTEGER,
	PRIMARY KEY (job_id, task_idx, attempt),
	FOREIGN KEY (job_id, task_idx) REFERENCES tasks(job_id, idx)
) WITHOUT ROWID;

CREATE TABLE kv (
	key        TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// Worker pools: a pool's workers are jobs of kind 'worker'; a pool
	// job's attempt names the worker attempt it runs on.
	`
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN pool_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_by_kind ON jobs(kind);
ALTER TABLE attempts ADD COLUMN run_at INTEGER;
ALTER TABLE attempts ADD COLUMN worker_job INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN worker_attempt INTEGER NOT NULL DEFAULT 0;

CREATE TABLE pools (
	name           TEXT    PRIMARY KEY,
	user_name      TEXT    NOT NULL,
	dag            TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	workers        INTEGER NOT NULL,
	state          TEXT    NOT NULL,
	failure_reason TEXT    NOT NULL DEFAULT '',
	failed_worker  INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// The job-files bucket's records when no Consul is configured
	// (bucket.Record as JSON; version is the check-and-set version).
	`
CREATE TABLE bucket_records (
	name    TEXT    PRIMARY KEY,
	job     INTEGER NOT NULL,
	version INTEGER NOT NULL,
	record  TEXT    NOT NULL
) WITHOUT ROWID;
`,
	// What a task's capacity cost (Task.Spent and its neighbours).
	`
ALTER TABLE tasks ADD COLUMN spent_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN on_demand_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN billed_since INTEGER;
ALTER TABLE tasks ADD COLUMN rate_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN on_demand_rate_usd REAL NOT NULL DEFAULT 0;
`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	var have int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this build (%d)", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}

// tx runs f in a write transaction.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// GetKV returns the value stored under key, or ok=false.
func (s *Store) GetKV(ctx context.Context, key string) (value []byte, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get %q: %w", key, err)
	}
	return value, true, nil
}

// PutKV stores value under key.
func (s *Store) PutKV(ctx context.Context, key string, value []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: put %q: %w", key, err)
	}
	return nil
}
