package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/internal/filecopy"
	"github.com/skynomad/skynomad/task"
)

// Launch implements engine.Engine. It starts one runner per node, each in
// its own session, with the node's sandbox node-<rank>/ as working area.
// It is idempotent: a node whose runner started (alive or not) is never
// started again, so calling Launch after a crash half-way through a
// launch starts only the missing nodes.
func (e *Engine) Launch(ctx context.Context, at *engine.Attempt) error {
	if at == nil {
		return errors.New("local engine: launch of a nil attempt")
	}
	dir := e.attemptDir(at.Ref)
	if exists(filepath.Join(dir, eventFile)) {
		return nil // ended already
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("launch %s: %w", at.Ref, err)
	}
	if !exists(filepath.Join(dir, attemptFile)) {
		if err := writeAttempt(dir, at); err != nil {
			return fmt.Errorf("launch %s: %w", at.Ref, err)
		}
	}
	a := e.register(at.Ref, dir, at)
	a.launchMu.Lock()
	defer a.launchMu.Unlock()
	if a.currentMode() != modeRunning || exists(filepath.Join(dir, stoppedFile)) || exists(filepath.Join(dir, preemptedFile)) {
		return nil // being stopped or preempted: never start more
	}
	return e.startMissing(ctx, at, a)
}

// startMissing prepares and starts every node whose runner never started
// (all of them on a first launch; those a crash cut off otherwise), then
// watches the attempt. The caller holds a.launchMu.
func (e *Engine) startMissing(ctx context.Context, at *engine.Attempt, a *attempt) error {
	var missing []int
	for rank := range a.nodes {
		if !nodeStarted(a.nodeDir(rank)) {
			missing = append(missing, rank)
		}
	}
	fresh := len(missing) == a.nodes
	// Prepare everything before starting anything, so that a bad workdir
	// or mount fails the launch with nothing running.
	prepare := func() error {
		if err := e.prepareMounts(at, a); err != nil {
			return err
		}
		for _, rank := range missing {
			if err := e.prepareNode(ctx, at, a, rank); err != nil {
				return fmt.Errorf("node %d: %w", rank, err)
			}
		}
		return nil
	}
	if len(missing) > 0 {
		if err := prepare(); err != nil {
			if fresh {
				e.forget(a) // nothing ever ran: the attempt was never launched
				e.removeMounts(a)
				os.RemoveAll(a.dir)
			}
			return wrapLaunchError(at.Ref, err)
		}
	}
	for _, rank := range missing {
		if err := e.startNode(at, a, rank); err != nil {
			e.killAll(context.WithoutCancel(ctx), a)
			return fmt.Errorf("launch %s: node %d: %w", at.Ref, rank, err)
		}
	}
	if len(missing) > 0 {
		e.emit(engine.Event{Ref: at.Ref, Kind: engine.EventPlaced, Reason: fmt.Sprintf("%d node(s) on this host", a.nodes)})
	}
	e.watch(a)
	return nil
}

// wrapLaunchError names the attempt; a problem with what the task asks for
// (its workdir, its mounts) stays an engine.InfeasibleError: no retry can
// fix it.
func wrapLaunchError(ref engine.Ref, err error) error {
	var ie *engine.InfeasibleError
	if errors.As(err, &ie) {
		return engine.Infeasible("launch %s: %s", ref, ie.Reason)
	}
	return fmt.Errorf("launch %s: %w", ref, err)
}

// nodeStarted reports whether a node's runner was ever started: it holds
// its lock, or left a phase or a result. A runner writes its
// phase before any user code runs, so a node that shows none of these ran
// nothing of the task and may be started (again).
func nodeStarted(node string) bool {
	return leftMarks(node) || lockHeld(filepath.Join(node, lockFile))
}

// leftMarks reports whether a runner left a phase or a result.
func leftMarks(node string) bool {
	for _, f := range []string{phaseFile, resultFile} {
		if exists(filepath.Join(node, f)) {
			return true
		}
	}
	return false
}

// prepareNode lays out a fresh sandbox: the workdir copy, mounts that go
// inside it, and the scripts.
func (e *Engine) prepareNode(ctx context.Context, at *engine.Attempt, a *attempt, k int) error {
	node := a.nodeDir(k)
	at, _ = nodeView(at, k)
	if err := os.RemoveAll(node); err != nil { // left by a crashed launch
		return err
	}
	if err := os.MkdirAll(node, 0o755); err != nil {
		return err
	}
	work := filepath.Join(node, workdirName)
	switch wd := at.Task.Workdir; {
	case at.Worker != nil:
		// A pool job works in its worker's workdir (workerWorkdir).
		if !exists(e.workerWorkdir(at)) {
			return fmt.Errorf("pool worker %s is gone: no %s", at.Worker, e.workerWorkdir(at))
		}
	case at.Files.Workdir != "":
		// The runner fetches it from the job-files bucket.
		if err := os.Mkdir(work, 0o755); err != nil {
			return err
		}
	case wd != nil && wd.Path != "":
		if err := copyTree(wd.Path, work); err != nil {
			return engine.Infeasible("copy workdir %s: %v", wd.Path, err)
		}
	case wd != nil && wd.GitURL != "":
		if err := gitClone(ctx, wd.GitURL, wd.GitRef, work); err != nil {
			return engine.Infeasible("%v", err)
		}
	default:
		if err := os.Mkdir(work, 0o755); err != nil {
			return err
		}
	}
	if err := e.mountsInWorkdir(at, a, work); err != nil {
		return err
	}
	if at.Task.Setup != "" && !at.SkipSetup {
		if err := os.WriteFile(filepath.Join(node, setupScript), []byte(at.Task.Setup), 0o644); err != nil {
			return err
		}
	}
	if at.Task.Run != "" {
		if err := os.WriteFile(filepath.Join(node, runScript), []byte(at.Task.Run), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// workerWorkdir is the workdir of the pool worker a pool job runs beside:
// what the worker's setup left there is the job's.
func (e *Engine) workerWorkdir(at *engine.Attempt) string {
	return filepath.Join(nodeDir(e.attemptDir(*at.Worker), 0), workdirName)
}

// startNode has a runner of the pool run one node. The runner takes the
// node's lock, and writes its pid in it, before it says it started: the
// lock held, the phase or the result mark the node started (nodeStarted),
// so a node is never started twice and a launch cut short is finished, not
// mistaken for a vanished runner.
func (e *Engine) startNode(at *engine.Attempt, a *attempt, k int) error {
	node := a.nodeDir(k)
	asg := driver.Assignment{
		Env:   e.runnerEnv(at, a, k),
		Phase: driver.PhaseAll,
		Log:   filepath.Join(node, outputLog),
		Lock:  filepath.Join(node, lockFile),
	}
	for try := 0; ; try++ {
		r, fresh, err := e.pool.get()
		if err != nil {
			return err
		}
		if err := r.assign(asg); err != nil {
			r.in.Close() // never reused
			if fresh || try >= 2 {
				return err
			}
			continue // an idle runner that died meanwhile: take another
		}
		go e.awaitNode(a, r)
		e.cfg.Logger.Debug("node started", "attempt", at.Ref, "node", k, "runner", r.pid)
		return nil
	}
}

// awaitNode waits for the runner to finish the node, then wakes the
// attempt's watcher and gives the runner back to the pool (a runner told
// to stop exits instead). The runner cleared its pid from the node's lock
// before it let the lock go: nothing of this node signals it any more.
func (e *Engine) awaitNode(a *attempt, r *runner) {
	rep, err := r.reply()
	done := err == nil && rep.Done
	a.poke()
	if done && !rep.Exiting {
		e.pool.put(r)
		return
	}
	r.in.Close()
}

// runnerEnv is the runner's environment: a minimal host environment, the
// attempt's variables and secrets, then the driver contract.
func (e *Engine) runnerEnv(group *engine.Attempt, a *attempt, k int) []string {
	at, rank := nodeView(group, k)
	nodes := max(at.Task.NumNodes, 1)
	env := hostEnv()
	for _, v := range at.Env {
		env = append(env, v.Name+"="+v.Value)
	}
	for _, v := range at.Secrets {
		env = append(env, v.Name+"="+v.Value)
	}
	if f := a.nodeFiles(at, rank); !f.Empty() {
		b, _ := json.Marshal(f) // cannot fail: strings and bools
		env = append(env, node.EnvFiles+"="+string(b))
		for _, v := range at.FilesEnv {
			env = append(env, v.Name+"="+v.Value)
		}
	}
	node := a.nodeDir(k)
	ips := make([]string, nodes)
	for i := range ips {
		ips[i] = "127.0.0.1"
	}
	info, _ := json.Marshal(clusterInfo{
		ClusterName: naming.JobID(at.Ref.JobID, at.Ref.Task),
		Cloud:       "local",
		Region:      "local",
	})
	set := func(k, v string) { env = append(env, k+"="+v) }
	if exists(filepath.Join(node, setupScript)) {
		set(driver.EnvSetupFile, filepath.Join(node, setupScript))
	}
	if exists(filepath.Join(node, runScript)) {
		set(driver.EnvRunFile, filepath.Join(node, runScript))
	}
	set(driver.EnvTaskName, at.Task.Name)
	set(driver.EnvNumNodes, strconv.Itoa(nodes))
	set(driver.EnvNodeRank, strconv.Itoa(rank))
	set(driver.EnvNodeIPs, strings.Join(ips, "\n"))
	if at.Worker != nil {
		set(driver.EnvWorkdir, e.workerWorkdir(at))
	} else {
		set(driver.EnvWorkdir, filepath.Join(node, workdirName))
	}
	set(driver.EnvResultFile, filepath.Join(node, resultFile))
	set(driver.EnvGrace, e.cfg.Grace.String())
	set(driver.EnvClusterInfo, string(info))
	set(driver.EnvNoticeFile, filepath.Join(node, noticeFile))
	set(driver.EnvPhaseFile, filepath.Join(node, phaseFile))
	set(driver.EnvPGIDFile, filepath.Join(node, pgidFile))
	if a.gated() {
		set(driver.EnvRunGate, filepath.Join(a.dir, runGateFile))
	}
	if group.Group != "" && !group.Isolated {
		set(driver.EnvGroup, group.Group)
		set(driver.EnvHosts, driver.FormatHosts(localGroupHosts(group)))
	}
	set(attemptMarker, a.dir)
	return env
}

// localGroupHosts names every node of a job group on this host.
func localGroupHosts(a *engine.Attempt) []driver.HostEntry {
	var out []driver.HostEntry
	for _, m := range a.Members {
		for rank := range max(m.Task.NumNodes, 1) {
			out = append(out, driver.HostEntry{IP: "127.0.0.1", Name: task.Hostname(a.Group, m.Task.Name, rank)})
		}
	}
	return out
}

// clusterInfo is SKYPILOT_CLUSTER_INFO.
type clusterInfo struct {
	ClusterName string  `json:"cluster_name"`
	Cloud       string  `json:"cloud"`
	Region      string  `json:"region"`
	Zone        *string `json:"zone"`
}

// copyTree copies the directory src to dst (which must not exist). Symlinks
// are copied as links, never followed; special files are skipped.
func copyTree(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", src)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return filecopy.Copy(path, target, info.Mode().Perm())
		default:
			return nil
		}
	})
}

// gitClone clones url into dst and checks out ref, if given.
func gitClone(ctx context.Context, url, ref, dst string) error {
	run := func(args ...string) error {
		out, err := exec.CommandContext(ctx, "git", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("clone", "--quiet", url, dst); err != nil {
		return err
	}
	if ref != "" {
		return run("-C", dst, "checkout", "--quiet", ref)
	}
	return nil
}
