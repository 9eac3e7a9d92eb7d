package store

import (
	"sync/atomic"
	"time"
)

// observer holds the function told how long each timed operation took.
type observer struct {
	f atomic.Pointer[func(op string, d time.Duration)]
}

// SetObserver has f told how long each timed operation took: op is
// "save", "list", "get" or "count". f runs on the caller's goroutine after
// the operation, errors included, and must be quick. nil tells no one. It
// may be called at any time.
func (s *Store) SetObserver(f func(op string, d time.Duration)) {
	if f == nil {
		s.obs.f.Store(nil)
		return
	}
	s.obs.f.Store(&f)
}

// timed tells the observer that op, started at start, is done:
// defer s.timed("save", time.Now()).
func (s *Store) timed(op string, start time.Time) {
	if f := s.obs.f.Load(); f != nil {
		(*f)(op, time.Since(start))
	}
}
