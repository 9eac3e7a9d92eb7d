package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
)

// unmountWait bounds the unmount of the bucket mounts once the task's
// processes are gone (MOUNT_CACHED writes are flushed first).
const unmountWait = 2 * time.Minute

// fetchedMark, beside the workdir, says the downloads are done: on Nomad
// the setup and the run task share the alloc dir, and the run task only
// mounts again what setup's runner unmounted when it ended.
const fetchedMark = ".skynomad-files-fetched"

// fetchFiles puts the job's files in place before the first phase (see
// bucket/node): downloads once per node, mounts for this runner's life.
// It returns the mounts to end after the phases, or the Result of a fetch
// that failed (counted as a setup failure).
func (st *run) fetchFiles(ctx context.Context, first Phase) (*node.Mounts, *Result) {
	raw := LookupEnv(st.Env, node.EnvFiles)
	if raw == "" {
		return nil, nil
	}
	fail := func(format string, args ...any) *Result {
		res := &Result{Phase: PhaseSetup, ExitCode: 1, FinishedAt: st.Clock().UTC()}
		if first == PhaseRun {
			res.Phase = PhaseRun
		}
		if ctx.Err() != nil {
			res.ExitCode, res.Terminated = TerminatedExitCode, true
		}
		fmt.Fprintf(st.stderr, "skynomad: "+format+"\n", args...)
		return res
	}
	var f node.Files
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, fail("%s: %v", node.EnvFiles, err)
	}
	workdir := st.Config.Workdir
	if workdir == "" {
		workdir, _ = os.Getwd()
	}
	mark := filepath.Join(filepath.Dir(workdir), fetchedMark)
	if _, err := os.Stat(mark); err == nil {
		f = mountsOnly(f)
	}
	if f.Empty() {
		return nil, nil
	}
	m, err := node.Fetch(ctx, f, node.Options{
		Workdir: workdir,
		Home:    LookupEnv(st.Env, "HOME"),
		Env:     st.Env,
		// Beside the workdir: the node's sandbox, or the alloc dir.
		CacheDir: filepath.Dir(workdir),
		Log:      func(format string, args ...any) { fmt.Fprintf(st.stdout, "skynomad: "+format+"\n", args...) },
	})
	if err != nil {
		return nil, fail("cannot fetch the job's files: %v", err)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		st.Logger.Warn("cannot mark the files fetched", "err", err)
	}
	return m, nil
}

// mountsOnly keeps what must be mounted again: MOUNT and MOUNT_CACHED
// buckets.
func mountsOnly(f node.Files) node.Files {
	out := node.Files{Store: f.Store}
	for _, b := range f.Buckets {
		if b.Mode != node.ModeCopy {
			out.Buckets = append(out.Buckets, b)
		}
	}
	return out
}

// unmount ends the mounts once the task's processes are gone.
func (st *run) unmount(m *node.Mounts) {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), unmountWait)
	defer cancel()
	if err := m.Unmount(ctx); err != nil {
		fmt.Fprintf(st.stderr, "skynomad: unmounting the bucket mounts: %v\n", err)
	}
}
