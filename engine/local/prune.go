package local

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KeepNone, as Config.KeepAttempts, keeps no sandbox of an ended attempt.
const KeepNone = -1

// DefaultKeepAttempts is how many ended attempts keep their sandboxes by
// default.
const DefaultKeepAttempts = 20

// prunedFile marks an attempt whose sandbox was removed.
const prunedFile = "pruned"

// kept are the files of an ended attempt that outlive its sandbox: what
// Resume, Stop and Logs read.
var kept = []string{attemptFile, eventFile, prunedFile, outputLog, resultFile}

// pruneDelay gathers the ends of many attempts into one prune.
const pruneDelay = time.Second

// prune removes, a moment later, the sandboxes (workdir copies, mounts,
// scripts) of the ended attempts beyond the newest Config.KeepAttempts.
// Logs and the records of the end stay, so `jobs logs` still works;
// attempts that have not ended are never touched. Requests made while one
// is pending are served by it.
func (e *Engine) prune() {
	if e.prunePending.Swap(true) {
		return
	}
	e.goTracked(func() {
		t := time.NewTimer(pruneDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-e.ctx.Done():
			return
		}
		e.prunePending.Store(false)
		e.pruning.Lock()
		defer e.pruning.Unlock()
		e.pruneOnce()
	})
}

// endedAttempt is an attempt whose sandbox is still there.
type endedAttempt struct {
	dir string
	at  time.Time
}

// noteEnded records that the attempt in dir ended at, for prune.
func (e *Engine) noteEnded(dir string, at time.Time) {
	e.endedMu.Lock()
	e.ended = append(e.ended, endedAttempt{dir, at})
	e.endedMu.Unlock()
	e.prune()
}

// pruneOnce prunes the oldest ended attempts beyond the newest
// KeepAttempts. The first prune reads the attempts directory (attempts that
// ended before this engine started); later ones work from the attempts
// noted since.
func (e *Engine) pruneOnce() {
	if !e.scanned {
		e.scanned = true
		e.scanEnded()
	}
	keep := max(e.cfg.KeepAttempts, 0)
	for {
		e.endedMu.Lock()
		if len(e.ended) <= keep || e.ctx.Err() != nil {
			e.endedMu.Unlock()
			return
		}
		a := e.ended[0]
		e.ended = e.ended[1:]
		e.endedMu.Unlock()
		if err := pruneAttempt(a.dir); err != nil {
			e.cfg.Logger.Warn("cannot remove an ended attempt's sandbox", "dir", a.dir, "err", err)
		}
	}
}

// scanEnded adds the ended, unpruned attempts on disk to the ones noted,
// oldest first.
func (e *Engine) scanEnded() {
	root := filepath.Join(e.cfg.Dir, "attempts")
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	e.endedMu.Lock()
	defer e.endedMu.Unlock()
	seen := map[string]bool{}
	for _, a := range e.ended {
		seen[a.dir] = true
	}
	for _, en := range entries {
		dir := filepath.Join(root, en.Name())
		fi, err := os.Stat(filepath.Join(dir, eventFile))
		if seen[dir] || err != nil || exists(filepath.Join(dir, prunedFile)) {
			continue // noted already, not ended, or already pruned
		}
		e.ended = append(e.ended, endedAttempt{dir, fi.ModTime()})
	}
	slices.SortStableFunc(e.ended, func(a, b endedAttempt) int { return a.at.Compare(b.at) })
}

// pruneAttempt removes everything of an ended attempt but the kept files.
func pruneAttempt(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if !strings.HasPrefix(rel, "node-") || strings.Contains(rel, string(filepath.Separator)) {
				if err := os.RemoveAll(path); err != nil {
					return err
				}
				return filepath.SkipDir
			}
			return nil // a node's own directory: look inside
		}
		if slices.Contains(kept, d.Name()) {
			return nil
		}
		return os.Remove(path)
	})
	if err != nil {
		return err
	}
	return touch(filepath.Join(dir, prunedFile))
}
