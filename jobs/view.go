package jobs

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/store"
)

// queueView is what `jobs queue` reads, kept in memory so that listing
// 10,000 jobs costs no database time and never waits behind the loop. It
// holds every unfinished job and the newest finished ones (up to size); a
// request that reaches past them reads the store instead.
//
// The loop writes an entry after every save of the job; an entry is never
// changed in place, so readers take pointers under the read lock and build
// their answer outside it.
type queueView struct {
	mu       sync.RWMutex
	size     int
	entries  map[int64]*viewEntry
	ids      []int64 // ascending
	finished int     // finished entries held
	complete bool    // holds every job in the store
	loaded   bool
	// active counts the unfinished jobs by user and status (every
	// unfinished job is held).
	active map[string]map[api.Status]int
}

func (v *queueView) isLoaded() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.loaded
}

type viewEntry struct {
	job   store.Job // without DAG
	tasks []store.Task
}

func newQueueView(size int) *queueView {
	return &queueView{size: size, entries: map[int64]*viewEntry{}, active: map[string]map[api.Status]int{}}
}

// load fills the view from the store: every unfinished job and the newest
// finished ones.
func (v *queueView) load(ctx context.Context, st *store.Store) error {
	active, activeTasks, err := st.List(ctx, store.Filter{Active: true, Kind: &managedJobs})
	if err != nil {
		return err
	}
	recent, recentTasks, err := st.List(ctx, store.Filter{Limit: v.size + 1, Kind: &managedJobs})
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.entries = map[int64]*viewEntry{}
	v.active = map[string]map[api.Status]int{}
	v.ids, v.finished = nil, 0
	v.complete = len(recent) <= v.size
	v.loaded = true
	if !v.complete {
		recent = recent[:v.size]
	}
	for _, j := range active {
		v.putLocked(j, activeTasks[j.ID])
	}
	for _, j := range recent {
		v.putLocked(j, recentTasks[j.ID])
	}
	slices.Sort(v.ids)
	return nil
}

// put records the job's current state.
func (v *queueView) put(j store.Job, tasks []store.Task) {
	if j.IsWorker() {
		return // pool workers are shown by jobs pool status
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.putLocked(j, tasks)
	v.evictLocked()
}

func (v *queueView) putLocked(j store.Job, tasks []store.Task) {
	j.DAG.Tasks = nil
	old, ok := v.entries[j.ID]
	if !ok {
		if n := len(v.ids); n > 0 && v.ids[n-1] > j.ID {
			i, _ := slices.BinarySearch(v.ids, j.ID)
			v.ids = slices.Insert(v.ids, i, j.ID)
		} else {
			v.ids = append(v.ids, j.ID)
		}
	} else if old.job.Status.Terminal() {
		v.finished--
	} else {
		v.countActive(old.job.User, old.job.Status, -1)
	}
	if j.Status.Terminal() {
		v.finished++
	} else {
		v.countActive(j.User, j.Status, 1)
	}
	v.entries[j.ID] = &viewEntry{job: j, tasks: tasks}
}

// countActive adds n to the count of user's unfinished jobs in status.
func (v *queueView) countActive(user string, status api.Status, n int) {
	byStatus := v.active[user]
	if byStatus == nil {
		byStatus = map[api.Status]int{}
		v.active[user] = byStatus
	}
	if byStatus[status] += n; byStatus[status] == 0 {
		delete(byStatus, status)
	}
}

// evictLocked drops the oldest finished jobs beyond size (with some slack,
// so eviction runs once per many jobs).
func (v *queueView) evictLocked() {
	if v.finished <= v.size+v.size/8 {
		return
	}
	drop := v.finished - v.size
	keep := v.ids[:0]
	for _, id := range v.ids {
		if e := v.entries[id]; drop > 0 && e.job.Status.Terminal() {
			delete(v.entries, id)
			v.finished--
			drop--
			continue
		}
		keep = append(keep, id)
	}
	v.ids = keep
	v.complete = false
}

// get returns one job's entry.
func (v *queueView) get(id int64) (*viewEntry, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.entries[id]
	return e, ok && v.loaded
}

// query answers a queue request from memory, newest first; ok=false means
// the answer may need finished jobs the view no longer holds.
func (v *queueView) query(f store.Filter) (entries []*viewEntry, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if !v.loaded {
		return nil, false
	}
	var ids map[int64]bool
	allHeld := false
	if len(f.IDs) > 0 {
		ids = dedupe(f.IDs)
		allHeld = true
		for id := range ids {
			if _, held := v.entries[id]; !held {
				allHeld = false
			}
		}
	}
	finished := 0
	for i := len(v.ids) - 1; i >= 0; i-- {
		e := v.entries[v.ids[i]]
		j := &e.job
		if ids != nil && !ids[j.ID] || f.User != "" && j.User != f.User ||
			f.Name != "" && j.Name != f.Name || f.Pool != "" && j.Pool != f.Pool {
			continue
		}
		if j.Status.Terminal() {
			if f.Active {
				continue
			}
			if f.RecentFinished > 0 {
				if finished >= f.RecentFinished {
					continue
				}
				finished++
			}
		}
		entries = append(entries, e)
		if f.Limit > 0 && len(entries) >= f.Limit {
			break
		}
	}
	// Evicted jobs are finished and older than every finished job held:
	// the answer is whole if it could not have included any of them.
	switch {
	case v.complete, f.Active, allHeld,
		f.Limit > 0 && len(entries) >= f.Limit,
		f.RecentFinished > 0 && finished >= f.RecentFinished:
		return entries, true
	}
	return nil, false
}

// inProgress counts the unfinished jobs of user (of every user when
// empty) by status; ok=false before the view is loaded. The view holds
// every unfinished job, so the count is whole.
func (v *queueView) inProgress(user string) (counts map[api.Status]int, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if !v.loaded {
		return nil, false
	}
	counts = map[api.Status]int{}
	for u, byStatus := range v.active {
		if user == "" || u == user {
			for status, n := range byStatus {
				counts[status] += n
			}
		}
	}
	return counts, true
}

func (e *viewEntry) api(now time.Time) api.Job { return toAPI(&e.job, e.tasks, now) }
