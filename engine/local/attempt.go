package local

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
)

// mode says who decides how a live attempt ends.
type mode int

const (
	// modeRunning: the watcher reports the end (Exited or Preempted).
	modeRunning mode = iota
	// modeStopping / modePreempting: Stop or Preempt ends the attempt and
	// reports it.
	modeStopping
	modePreempting
)

// stopMargin is how long Stop waits beyond the grace for runners to end by
// themselves (they kill their user processes at the grace and write a
// result) before it kills everything.
const stopMargin = 2 * time.Second

// attempt is the engine's memory of one live attempt; small on purpose.
type attempt struct {
	ref      engine.Ref
	dir      string
	nodes    int
	hasSetup bool
	// hostMounts are the mounts linked at paths of this host.
	hostMounts []hostMount
	// bucketMounts are where the runners mount buckets: swept when the
	// attempt ends, in case a runner died before it unmounted.
	bucketMounts []string
	// group is the attempt when it runs a job group (nil otherwise): its
	// members' nodes are the attempt's nodes, in member order.
	group *engine.Attempt

	launchMu sync.Mutex // serializes Launch, and Stop against Launch

	mu       sync.Mutex
	mode     mode
	ended    bool
	watching bool
	// reported is the last phase event sent ("", setup_started, running).
	reported engine.EventKind
	// tearDown is when a failed or vanished node made the watcher stop the
	// others (zero: not yet).
	tearDown time.Time
	// auxStopped holds the job group members told to stop once the
	// primary members were done, and when.
	auxStopped map[int]time.Time
	// done is closed by the watcher once every runner has ended.
	done chan struct{}
	// wake asks the watcher to look now (a file changed, a runner exited).
	wake chan struct{}
}

// poke wakes the attempt's watcher.
func (a *attempt) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) newAttempt(ref engine.Ref, dir string, a *engine.Attempt) *attempt {
	at := &attempt{
		ref:      ref,
		dir:      dir,
		nodes:    a.Nodes(),
		hasSetup: a.Task.Setup != "" && !a.SkipSetup,
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	if len(a.Members) > 0 {
		at.group = a
		for _, m := range a.Members {
			at.hasSetup = at.hasSetup || m.Task.Setup != "" && !a.SkipSetup
		}
	} else {
		at.hostMounts = hostMounts(a.Task, e.cfg.Home)
	}
	for k := range at.nodes {
		view, rank := nodeView(a, k)
		opts := node.Options{Workdir: filepath.Join(at.nodeDir(k), workdirName), Home: e.cfg.Home}
		if paths, err := node.MountPaths(at.nodeFiles(view, rank), opts); err == nil {
			at.bucketMounts = append(at.bucketMounts, paths...)
		}
	}
	return at
}

// nodeView is the attempt node k runs and its rank there: the attempt
// itself, or for a job group the member that node k belongs to.
func nodeView(a *engine.Attempt, k int) (*engine.Attempt, int) {
	if len(a.Members) == 0 {
		return a, k
	}
	m, rank := a.NodeMember(k)
	return a.MemberView(m), rank
}

// waitLaunch waits for a Launch in progress to finish starting its nodes;
// a later Launch sees the attempt's mode and starts nothing.
func (a *attempt) waitLaunch() {
	a.launchMu.Lock()
	defer a.launchMu.Unlock()
}

func (a *attempt) nodeDir(rank int) string { return nodeDir(a.dir, rank) }

// gated: the run phase waits until setup succeeded on every node, as on a
// SkyPilot cluster.
func (a *attempt) gated() bool { return a.hasSetup && a.nodes > 1 }

// openGate lets the run phase start once every node's setup succeeded.
func (e *Engine) openGate(a *attempt, nodes []nodeState) {
	gate := filepath.Join(a.dir, runGateFile)
	if !a.gated() || exists(gate) {
		return
	}
	for _, n := range nodes {
		r := n.result
		if r == nil || r.Phase != driver.PhaseSetup || r.ExitCode != 0 || r.Terminated {
			return
		}
	}
	if err := touch(gate); err != nil {
		e.cfg.Logger.Warn("cannot open the run gate", "attempt", a.ref, "err", err)
	}
}

func (a *attempt) marker() string { return attemptMarker + "=" + a.dir }

// setMode moves a live attempt to m; false if it already ended.
func (a *attempt) setMode(m mode) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return false
	}
	a.mode = m
	return true
}

func (a *attempt) currentMode() mode {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mode
}

// lookup returns the live attempt ref, registering it from disk if this
// engine has not seen it. ended is the terminal event when the attempt has
// already ended (the attempt returned then is not registered).
func (e *Engine) lookup(ref engine.Ref) (a *attempt, ended *engine.Event, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.attempts[ref]; a != nil {
		return a, nil, nil
	}
	dir := e.attemptDir(ref)
	rec, err := readAttempt(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, engine.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	a = e.newAttempt(ref, dir, rec)
	if ev, err := readEvent(dir); err == nil {
		a.ended = true
		return a, ev, nil
	}
	switch {
	case exists(filepath.Join(dir, stoppedFile)):
		a.mode = modeStopping
	case exists(filepath.Join(dir, preemptedFile)):
		a.mode = modePreempting
	}
	e.attempts[ref] = a
	return a, nil, nil
}

// register returns the registered attempt for ref, creating it.
func (e *Engine) register(ref engine.Ref, dir string, rec *engine.Attempt) *attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.attempts[ref]; a != nil {
		return a
	}
	a := e.newAttempt(ref, dir, rec)
	e.attempts[ref] = a
	return a
}

// finish reports the attempt's end once: it records the event on disk,
// forgets the attempt and sends the event. Later calls do nothing.
func (e *Engine) finish(a *attempt, ev engine.Event) {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		return
	}
	a.ended = true
	a.mu.Unlock()
	ev.Ref = a.ref
	if ev.Time.IsZero() {
		ev.Time = e.cfg.Clock()
	}
	ev.Node = nodeName
	if err := node.Sweep(a.bucketMounts); err != nil {
		e.cfg.Logger.Warn("cannot end a bucket mount of an attempt", "attempt", a.ref, "err", err)
	}
	e.removeMounts(a)
	if err := writeEvent(a.dir, ev); err != nil {
		e.cfg.Logger.Warn("cannot record the end of an attempt", "attempt", a.ref, "err", err)
	}
	e.forget(a)
	e.emit(ev)
	e.noteEnded(a.dir, ev.Time)
}

// forget drops a from the live attempts.
func (e *Engine) forget(a *attempt) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.attempts[a.ref] == a {
		delete(e.attempts, a.ref)
	}
}

// watch starts the attempt's watcher unless one runs. The watcher looks at
// the nodes whenever something wakes it (a file renamed into a node's
// sandbox, a runner started here exiting), soon after a runner wrote its
// last result (it is about to exit), and every PollInterval otherwise.
func (e *Engine) watch(a *attempt) {
	a.mu.Lock()
	if a.watching || a.ended {
		a.mu.Unlock()
		return
	}
	a.watching = true
	a.mu.Unlock()
	e.goTracked(func() {
		defer func() {
			a.mu.Lock()
			a.watching = false
			a.mu.Unlock()
		}()
		var dirs []string
		for rank := range a.nodes {
			if d := a.nodeDir(rank); e.notify.watch(d, a.poke) {
				dirs = append(dirs, d)
			}
		}
		defer func() {
			for _, d := range dirs {
				e.notify.forget(d)
			}
		}()
		soon := time.Duration(0)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			done, exiting := e.observe(a)
			if done {
				return
			}
			wait := e.cfg.PollInterval
			if exiting {
				soon = min(max(2*soon, time.Millisecond), 50*time.Millisecond)
				wait = min(wait, soon)
			} else {
				soon = 0
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(wait)
			select {
			case <-e.ctx.Done():
				return
			case <-a.wake:
			case <-timer.C:
			}
		}
	})
}

// observe looks at every node once. done: every runner has ended (and the
// end has been handled); exiting: a runner wrote its last result and is
// about to exit.
func (e *Engine) observe(a *attempt) (done, exiting bool) {
	nodes := make([]nodeState, a.nodes)
	allDone := true
	for i := range nodes {
		nodes[i] = observeNode(a.nodeDir(i))
		if nodes[i].alive {
			allDone = false
			if r := nodes[i].result; r != nil && r.Final() {
				exiting = true
			}
		}
	}
	m := a.currentMode()
	var progress engine.GroupProgress
	if m == modeRunning {
		e.reportPhase(a, nodes)
		e.openGate(a, nodes)
		if a.group != nil {
			progress = a.group.Progress(groupNodes(a, nodes))
		}
	}
	if allDone {
		select {
		case <-a.done:
		default:
			close(a.done)
		}
		if m == modeRunning {
			ev := outcome(nodes)
			if progress.PrimariesDone {
				ev = engine.Event{Kind: engine.EventExited, Time: ev.Time, Phase: engine.PhaseRun, Reason: "the primary tasks succeeded"}
			}
			e.finish(a, ev)
		}
		return true, false
	}
	if m == modeRunning {
		if progress.PrimariesDone {
			e.stopAuxiliaries(a, progress)
		} else {
			e.tearDownOnFailure(a, nodes)
		}
	}
	return false, exiting
}

// groupNodes is what Attempt.Progress needs of each node.
func groupNodes(a *attempt, nodes []nodeState) []engine.GroupNode {
	out := make([]engine.GroupNode, len(nodes))
	for k, n := range nodes {
		member, _ := a.group.NodeMember(k)
		out[k] = engine.GroupNode{Member: member, Ended: n.done()}
		if r := n.result; r != nil && n.done() {
			out[k].Succeeded = r.Final() && r.ExitCode == 0 && !r.Terminated
			out[k].EndedAt = r.FinishedAt
		}
	}
	return out
}

// stopAuxiliaries tells each auxiliary member of a job group to stop once
// its termination delay after the primary members passed: SIGTERM to its
// runners, then everything left is killed after the grace.
func (e *Engine) stopAuxiliaries(a *attempt, p engine.GroupProgress) {
	now := e.cfg.Clock()
	for member, at := range p.StopAt {
		if now.Before(at) {
			continue
		}
		a.mu.Lock()
		since, told := a.auxStopped[member]
		if !told {
			if a.auxStopped == nil {
				a.auxStopped = map[int]time.Time{}
			}
			a.auxStopped[member] = now
		}
		a.mu.Unlock()
		switch {
		case !told:
			e.signalMember(a, member, syscall.SIGTERM)
		case now.Sub(since) > e.cfg.Grace+stopMargin:
			e.killAll(e.ctx, a)
		}
	}
}

// signalMember sends sig to the live runners of one job group member.
func (e *Engine) signalMember(a *attempt, member int, sig syscall.Signal) {
	for k := range a.nodes {
		if m, _ := a.group.NodeMember(k); m == member {
			e.signalNode(a, k, sig)
		}
	}
}

// reportPhase sends SetupStarted / Running once every node reached the
// phase.
func (e *Engine) reportPhase(a *attempt, nodes []nodeState) {
	least := driver.PhaseRun
	for _, n := range nodes {
		switch n.phase {
		case driver.PhaseRun:
		case driver.PhaseSetup:
			least = driver.PhaseSetup
		default:
			return
		}
	}
	a.mu.Lock()
	var send []engine.EventKind
	if a.hasSetup && a.reported == "" {
		send = append(send, engine.EventSetupStarted)
		a.reported = engine.EventSetupStarted
	}
	if least == driver.PhaseRun && a.reported != engine.EventRunning {
		send = append(send, engine.EventRunning)
		a.reported = engine.EventRunning
	}
	a.mu.Unlock()
	for _, k := range send {
		ev := engine.Event{Ref: a.ref, Kind: k, Phase: engine.PhaseSetup}
		if k == engine.EventRunning {
			ev.Phase = engine.PhaseRun
		}
		e.emit(ev)
	}
}

// tearDownOnFailure stops the other nodes once one node failed or
// vanished (the attempt cannot succeed): SIGTERM first, SIGKILL after the
// grace.
func (e *Engine) tearDownOnFailure(a *attempt, nodes []nodeState) {
	failed := false
	for _, n := range nodes {
		if n.done() && !(n.result != nil && n.result.Final() && n.result.ExitCode == 0 && !n.result.Terminated) {
			failed = true
		}
		if !n.launched {
			failed = true // a launch that crashed half-way
		}
	}
	if !failed {
		return
	}
	a.mu.Lock()
	first := a.tearDown.IsZero()
	if first {
		a.tearDown = e.cfg.Clock()
	}
	started := a.tearDown
	a.mu.Unlock()
	if first {
		e.signalRunners(a, syscall.SIGTERM)
		return
	}
	if e.cfg.Clock().Sub(started) > e.cfg.Grace+stopMargin {
		e.killAll(e.ctx, a)
	}
}

// outcome is the end of an attempt whose runners all ended by themselves:
// the first user failure (setup failures first), else a preemption if a
// runner vanished or was terminated from outside, else success. It is
// stamped with the time the last runner finished, so an attempt that ended
// while nobody watched keeps its real end.
func outcome(nodes []nodeState) engine.Event {
	type failure struct {
		rank int
		res  driver.Result
	}
	var failures []failure
	vanished, terminated := -1, -1
	var last, firstTerm time.Time
	for rank, n := range nodes {
		r := n.result
		if r != nil && r.FinishedAt.After(last) {
			last = r.FinishedAt
		}
		switch {
		case r == nil || !r.Final():
			if vanished < 0 {
				vanished = rank
			}
		case r.Terminated:
			// The first one terminated is the cause; the others may be
			// the tear-down that followed.
			if terminated < 0 || r.FinishedAt.Before(firstTerm) {
				terminated, firstTerm = rank, r.FinishedAt
			}
		case r.ExitCode != 0:
			failures = append(failures, failure{rank, *r})
		}
	}
	if len(failures) > 0 {
		f := slices.MinFunc(failures, func(x, y failure) int {
			if (x.res.Phase == driver.PhaseSetup) != (y.res.Phase == driver.PhaseSetup) {
				if x.res.Phase == driver.PhaseSetup {
					return -1
				}
				return 1
			}
			if c := x.res.FinishedAt.Compare(y.res.FinishedAt); c != 0 {
				return c
			}
			return x.rank - y.rank
		})
		return engine.Event{
			Kind:     engine.EventExited,
			Time:     last,
			Phase:    engine.Phase(f.res.Phase),
			ExitCode: f.res.ExitCode,
			Reason:   fmt.Sprintf("%s exited with code %d on rank %d", f.res.Phase, f.res.ExitCode, f.rank),
		}
	}
	switch {
	case vanished >= 0:
		// A runner that left no result is the cause: the others were
		// terminated by the tear-down it started.
		return engine.Event{Kind: engine.EventPreempted, Time: last, Reason: fmt.Sprintf("runner vanished (rank %d)", vanished)}
	case terminated >= 0:
		return engine.Event{Kind: engine.EventPreempted, Time: last,
			Reason: fmt.Sprintf("runner of rank %d was terminated from outside skynomad", terminated)}
	}
	return engine.Event{Kind: engine.EventExited, Time: last, Phase: engine.PhaseRun, ExitCode: 0, Reason: "succeeded"}
}

// signalRunners sends sig to every live runner of the attempt.
func (e *Engine) signalRunners(a *attempt, sig syscall.Signal) {
	for k := range a.nodes {
		e.signalNode(a, k, sig)
	}
}

// signalNode sends sig to the runner of node k, if it is alive.
func (e *Engine) signalNode(a *attempt, k int, sig syscall.Signal) {
	node := a.nodeDir(k)
	if p, ok := readRunnerPID(node); ok && lockHeld(filepath.Join(node, lockFile)) {
		if err := signalProcess(p, sig); err != nil {
			e.cfg.Logger.Debug("signal runner", "attempt", a.ref, "node", k, "err", err)
		}
	}
}
