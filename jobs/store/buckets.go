package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skynomad/skynomad/bucket"
)

// bucketRecords keeps the job-files bucket's records in the
// bucket_records table when no Consul is configured. A record's version
// starts at 1 and grows by one with every write.
type bucketRecords struct{ s *Store }

var _ bucket.Records = bucketRecords{}

// BucketRecords returns the job-files bucket's records kept in this store.
func (s *Store) BucketRecords() bucket.Records { return bucketRecords{s} }

// Get implements bucket.Records.
func (b bucketRecords) Get(ctx context.Context, name string) (bucket.Record, uint64, bool, error) {
	var record string
	var version uint64
	err := b.s.r.QueryRowContext(ctx, `SELECT version, record FROM bucket_records WHERE name = ?`, name).
		Scan(&version, &record)
	if errors.Is(err, sql.ErrNoRows) {
		return bucket.Record{}, 0, false, nil
	}
	if err != nil {
		return bucket.Record{}, 0, false, fmt.Errorf("store: bucket record %s: %w", name, err)
	}
	r, err := decodeBucketRecord(name, record)
	if err != nil {
		return bucket.Record{}, 0, false, err
	}
	return r, version, true, nil
}

// Put implements bucket.Records: the version check and the write are one
// statement.
func (b bucketRecords) Put(ctx context.Context, r bucket.Record, version uint64) (uint64, error) {
	if r.Name == "" {
		return 0, errors.New("store: a bucket record needs a name")
	}
	record, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("store: bucket record %s: %w", r.Name, err)
	}
	var res sql.Result
	if version == 0 {
		res, err = b.s.w.ExecContext(ctx, `INSERT INTO bucket_records (name, job, version, record)
			VALUES (?, ?, 1, ?) ON CONFLICT(name) DO NOTHING`, r.Name, r.Job, string(record))
	} else {
		res, err = b.s.w.ExecContext(ctx, `UPDATE bucket_records SET job = ?, version = version + 1, record = ?
			WHERE name = ? AND version = ?`, r.Job, string(record), r.Name, version)
	}
	if err != nil {
		return 0, fmt.Errorf("store: put bucket record %s: %w", r.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: put bucket record %s: %w", r.Name, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("store: bucket record %s: %w", r.Name, bucket.ErrConflict)
	}
	return version + 1, nil
}

// List implements bucket.Records.
func (b bucketRecords) List(ctx context.Context) ([]bucket.Versioned, error) {
	rows, err := b.s.r.QueryContext(ctx, `SELECT name, version, record FROM bucket_records ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: bucket records: %w", err)
	}
	defer rows.Close()
	var out []bucket.Versioned
	for rows.Next() {
		var name, record string
		var version uint64
		if err := rows.Scan(&name, &version, &record); err != nil {
			return nil, fmt.Errorf("store: bucket records: %w", err)
		}
		r, err := decodeBucketRecord(name, record)
		if err != nil {
			return nil, err
		}
		out = append(out, bucket.Versioned{Record: r, Version: version})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: bucket records: %w", err)
	}
	return out, nil
}

func decodeBucketRecord(name, record string) (bucket.Record, error) {
	var r bucket.Record
	if err := json.Unmarshal([]byte(record), &r); err != nil {
		return bucket.Record{}, fmt.Errorf("store: bucket record %s: %w", name, err)
	}
	r.Name = name
	return r, nil
}
