package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/recordstest"
)

func TestBucketRecords(t *testing.T) {
	t.Parallel()
	recordstest.Run(t, func(t *testing.T) bucket.Records {
		return openTest(t, filepath.Join(t.TempDir(), "state.db")).BucketRecords()
	})
}

// TestUpgradeFromEveryVersion: a database left by an older build, at any
// earlier schema version and holding a job, opens with this build: the
// pending migrations apply, the job is still there, and the newest tables
// work.
func TestUpgradeFromEveryVersion(t *testing.T) {
	t.Parallel()
	for have := 1; have < len(migrations); have++ {
		t.Run(fmt.Sprintf("from %d", have), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "state.db")
			oldBuild(t, path, have)

			s := openTest(t, path)
			var version int
			if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM migrations`).Scan(&version); err != nil {
				t.Fatal(err)
			}
			if version != len(migrations) {
				t.Errorf("schema version after upgrade = %d, want %d", version, len(migrations))
			}
			rec, err := s.Get(ctx, 1)
			if err != nil {
				t.Fatalf("the old build's job after upgrade: %v", err)
			}
			if rec.Job.Name != "old" || len(rec.Tasks) != 1 || rec.Tasks[0].Name != "old" {
				t.Errorf("the old build's job after upgrade: %+v", rec)
			}
			rs := s.BucketRecords()
			r := bucket.Record{Name: "job-1", Job: 1, State: bucket.StateUploading}
			v, err := rs.Put(ctx, r, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got, gotV, found, err := rs.Get(ctx, r.Name); err != nil || !found || gotV != v || got.State != r.State {
				t.Errorf("Get after upgrade = %+v, version %d (want %d), found %v, %v", got, gotV, v, found, err)
			}
		})
	}
}

// oldBuild leaves at path what a build that knew only the first have
// migrations left: its schema and one job with its task.
func oldBuild(t *testing.T, path string, have int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{`CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`}
	for v := 1; v <= have; v++ {
		stmts = append(stmts, migrations[v-1], fmt.Sprintf(`INSERT INTO migrations (version, applied_at) VALUES (%d, 0)`, v))
	}
	stmts = append(stmts,
		`INSERT INTO jobs (name, user_name, status, dag, submitted_at)
			VALUES ('old', 'ada', 'PENDING', '{"name":"old","tasks":[{"name":"old","run":"echo hi"}]}', 0)`,
		`INSERT INTO tasks (job_id, idx, name, status) VALUES (1, 0, 'old', 'PENDING')`)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("schema version %d: %v", have, err)
		}
	}
}
