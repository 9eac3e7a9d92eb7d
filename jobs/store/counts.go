package store

import (
	"context"
	"fmt"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// CountByStatus counts the jobs of kind (KindJob or KindWorker) by status.
// A status no job has is absent from the map.
func (s *Store) CountByStatus(ctx context.Context, kind string) (map[api.Status]int, error) {
	defer s.timed("count", time.Now())
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM jobs WHERE kind = ? GROUP BY status`, kind)
	if err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	defer rows.Close()
	counts := map[api.Status]int{}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("store: count jobs: %w", err)
		}
		counts[api.Status(status)] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	return counts, nil
}
