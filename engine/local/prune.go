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

// prune removes the sandboxes (workdir copies, mounts, scripts) of the
// ended attempts beyond the newest Config.KeepAttempts. Logs and the
// records of the end stay, so `jobs logs` still works; attempts that have
// not ended are never touched. One prune runs at a time; a request made
// while one runs starts another after it.
func (e *Engine) prune() {
	if !e.pruning.TryLock() {
		e.pruneAgain.Store(true)
		return
	}
	e.goTracked(func() {
		defer e.pruning.Unlock()
		for {
			e.pruneAgain.Store(false)
			e.pruneOnce()
			if !e.pruneAgain.Load() || e.ctx.Err() != nil {
				return
			}
		}
	})
}

func (e *Engine) pruneOnce() {
	root := filepath.Join(e.cfg.Dir, "attempts")
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	type ended struct {
		dir string
		at  time.Time
	}
	var all []ended
	for _, en := range entries {
		dir := filepath.Join(root, en.Name())
		fi, err := os.Stat(filepath.Join(dir, eventFile))
		if err != nil || exists(filepath.Join(dir, prunedFile)) {
			continue // not ended, or already pruned
		}
		all = append(all, ended{dir, fi.ModTime()})
	}
	keep := max(e.cfg.KeepAttempts, 0)
	if len(all) <= keep {
		return
	}
	slices.SortFunc(all, func(a, b ended) int { return b.at.Compare(a.at) })
	for _, a := range all[keep:] {
		if e.ctx.Err() != nil {
			return
		}
		if err := pruneAttempt(a.dir); err != nil {
			e.cfg.Logger.Warn("cannot remove an ended attempt's sandbox", "dir", a.dir, "err", err)
		}
	}
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
