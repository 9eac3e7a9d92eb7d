package nomad

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine"
)

// Logs returns the attempt's output: for each node, task "setup" then
// "run", stdout then stderr. With several nodes each line starts with
// "(rank N, <node>) ". Without Follow it is a snapshot; with Follow it
// streams until every task has ended or ctx ends or the reader is closed.
// Tail keeps the last N lines of what already exists. A task that never
// started has no logs and is skipped (scenario 4), as is "setup" in a job
// without one (Nomad answers 400 for a task it does not know). An adopted
// attempt's logs are those of Nomad's replacement alloc.
func (e *Engine) Logs(ctx context.Context, ref engine.Ref, opts engine.LogOptions) (io.ReadCloser, error) {
	allocs, count, err := e.attemptAllocs(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !opts.Follow {
		var buf bytes.Buffer
		for _, v := range allocs {
			w := newLineWriter(&buf, &sync.Mutex{}, prefixOf(v, count))
			for _, task := range []string{taskSetup, taskRun} {
				if v.Tasks[task] == nil {
					continue // no such task (no setup), or not received yet: Nomad answers 400
				}
				for _, stream := range []string{"stdout", "stderr"} {
					if _, err := e.copyLog(ctx, v, task, stream, false, 0, w); err != nil {
						return nil, err
					}
					w.flush()
				}
			}
		}
		return io.NopCloser(bytes.NewReader(tailLines(buf.Bytes(), opts.Tail))), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(e.followLogs(ctx, ref, allocs, count, opts.Tail, pw))
	}()
	return &cancelReader{PipeReader: pr, cancel: cancel}, nil
}

type cancelReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *cancelReader) Close() error {
	r.cancel()
	return r.PipeReader.Close()
}

func prefixOf(v *allocView, count int) string {
	if count <= 1 {
		return ""
	}
	return fmt.Sprintf("(rank %d, %s) ", v.rank(), v.NodeName)
}

// attemptAllocs lists the attempt's own allocs (see watch.originals) and
// its node count: an adopted attempt has its replacement alloc.
func (e *Engine) attemptAllocs(ctx context.Context, ref engine.Ref) ([]*allocView, int, error) {
	jobID := JobID(ref)
	cur, rec, err := e.current(ctx, jobID)
	if err != nil {
		return nil, 0, err
	}
	if cur == nil {
		return nil, 0, fmt.Errorf("nomad: logs of %s: %w", ref, engine.ErrNotFound)
	}
	if id := rec.allocOf(ref.Attempt); id != "" {
		a, _, err := e.client.Allocations().Info(id, qo(ctx))
		if isNotFound(err) {
			return nil, 0, fmt.Errorf("nomad: logs of %s: alloc %s: %w", ref, id, engine.ErrNotFound)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("nomad: alloc %s of %s: %w", id, ref, err)
		}
		return []*allocView{viewOfAlloc(a)}, 1, nil
	}
	versions, _, _, err := e.client.Jobs().Versions(jobID, false, qo(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("nomad: versions of %s: %w", jobID, err)
	}
	// Versions come newest first. The attempt's window of raft indexes
	// starts at its oldest version of the newest run carrying its number
	// and ends where the next attempt registered.
	var since, until uint64
	found := false
	for i, v := range versions {
		if attemptOf(v) == ref.Attempt {
			found = true
			since = deref(v.JobModifyIndex)
			if i > 0 && until == 0 {
				until = deref(versions[i-1].JobModifyIndex)
			}
			continue
		}
		if found {
			break
		}
	}
	if !found {
		return nil, 0, fmt.Errorf("nomad: logs of %s: %w", ref, engine.ErrNotFound)
	}
	stubs, _, err := e.client.Jobs().Allocations(jobID, false, qo(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("nomad: allocations of %s: %w", jobID, err)
	}
	var count int
	for _, v := range versions {
		if attemptOf(v) == ref.Attempt {
			count = groupCount(v)
			break
		}
	}
	w := newWatch(jobID, ref, count)
	w.since, w.registered = since, true
	for _, s := range stubs {
		if until == 0 || s.CreateIndex < until {
			w.allocs[s.ID] = viewOfStub(s)
		}
	}
	return w.originals(), w.count, nil
}

// copyLog writes one task stream to w from offset and returns how many
// bytes it wrote. A task that has not started (404) writes nothing.
func (e *Engine) copyLog(ctx context.Context, v *allocView, task, stream string, follow bool, offset int64, w io.Writer) (int64, error) {
	alloc := &api.Allocation{ID: v.ID, NodeID: v.NodeID}
	cancel := make(chan struct{})
	defer close(cancel)
	frames, errs := e.cfg.LogClient.AllocFS().Logs(alloc, follow, task, stream, "start", offset, cancel, qo(ctx))
	var n int64
	if frames == nil {
		err := <-errs
		if isNotFound(err) || ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("nomad: logs of alloc %s task %s: %w", v.ID, task, err)
	}
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				return n, fmt.Errorf("nomad: logs of alloc %s task %s: %w", v.ID, task, err)
			}
			return n, nil
		case f, ok := <-frames:
			if !ok {
				return n, nil
			}
			if len(f.Data) > 0 {
				if _, err := w.Write(f.Data); err != nil {
					return n, err
				}
				n += int64(len(f.Data))
			}
		}
	}
}

// followLogs writes the existing output (its last tail lines) and then
// follows each node's tasks in order until they end. Nomad 1.6 keeps a
// followed log open after its task died, so each task's follow is ended
// once the alloc shows the task dead, and what the task wrote after the
// last frame received is read without follow.
func (e *Engine) followLogs(ctx context.Context, ref engine.Ref, allocs []*allocView, count, tail int, out io.Writer) error {
	var index uint64
	for len(allocs) < count {
		// Not placed yet: wait for the job's allocs to change.
		_, meta, err := e.client.Jobs().Allocations(JobID(ref), false, blockingQuery(ctx, index))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("nomad: allocations of %s: %w", JobID(ref), err)
		}
		index = meta.LastIndex
		if allocs, count, err = e.attemptAllocs(ctx, ref); err != nil {
			return err
		}
	}
	// Snapshot, remembering where each stream ended.
	type key struct{ alloc, task, stream string }
	offsets := map[key]int64{}
	var snap bytes.Buffer
	for _, v := range allocs {
		w := newLineWriter(&snap, &sync.Mutex{}, prefixOf(v, count))
		for _, task := range []string{taskSetup, taskRun} {
			if v.Tasks[task] == nil {
				continue
			}
			for _, stream := range []string{"stdout", "stderr"} {
				n, err := e.copyLog(ctx, v, task, stream, false, 0, w)
				if err != nil {
					return err
				}
				w.flush()
				offsets[key{v.ID, task, stream}] = n
			}
		}
	}
	var mu sync.Mutex
	if _, err := out.Write(tailLines(snap.Bytes(), tail)); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(allocs)*4)
	for _, v := range allocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			allocCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			aw := e.watchAlloc(allocCtx, v)
			for _, task := range []string{taskSetup, taskRun} {
				cur, ok := aw.wait(allocCtx, func(c *allocView) bool { return c.started(task) || cannotStart(c, task) })
				if !ok {
					return
				}
				if !cur.started(task) {
					continue
				}
				// Follow until the alloc shows the task dead.
				taskCtx, stop := context.WithCancel(allocCtx)
				go func() {
					aw.wait(taskCtx, func(c *allocView) bool { return taskDead(c, task) })
					stop()
				}()
				var swg sync.WaitGroup
				for _, stream := range []string{"stdout", "stderr"} {
					swg.Add(1)
					go func() {
						defer swg.Done()
						k := key{v.ID, task, stream}
						w := newLineWriter(out, &mu, prefixOf(v, count))
						defer w.flush()
						n, err := e.copyLog(taskCtx, cur, task, stream, true, offsets[k], w)
						if err != nil {
							errs <- err
							return
						}
						if ctx.Err() != nil {
							return
						}
						// The rest, written between the last frame and the end.
						if _, err := e.copyLog(ctx, cur, task, stream, false, offsets[k]+n, w); err != nil {
							errs <- err
						}
					}()
				}
				swg.Wait()
				stop()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// blockingQuery asks Nomad to answer once what the query reads has changed
// past index (at once for index 0), or after a while.
func blockingQuery(ctx context.Context, index uint64) *api.QueryOptions {
	return (&api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Minute}).WithContext(ctx)
}

// cannotStart: the task is not part of the alloc (no setup), died without
// starting, or the alloc ended.
func cannotStart(v *allocView, task string) bool {
	ts := v.Tasks[task]
	return (ts == nil && v.Tasks != nil) || (ts != nil && ts.State == taskStateDead) || v.terminal()
}

// taskDead: the task ended (or the whole alloc did).
func taskDead(v *allocView, task string) bool {
	ts := v.Tasks[task]
	return (ts != nil && ts.State == taskStateDead) || v.terminal()
}

// allocWatch keeps the latest state of one alloc, read with blocking
// queries, for goroutines waiting on a condition.
type allocWatch struct {
	mu      sync.Mutex
	v       *allocView
	done    bool // the alloc ended or can no longer be read
	changed chan struct{}
}

// watchAlloc follows alloc v until ctx ends or the alloc is terminal.
func (e *Engine) watchAlloc(ctx context.Context, v *allocView) *allocWatch {
	aw := &allocWatch{v: v, changed: make(chan struct{})}
	go func() {
		index := uint64(0)
		for ctx.Err() == nil {
			a, meta, err := e.client.Allocations().Info(v.ID, blockingQuery(ctx, index))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if isNotFound(err) {
					aw.update(nil, true)
					return
				}
				e.log.Warn("logs: read alloc", "alloc", v.ID, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(e.cfg.ReconnectDelay):
				}
				continue
			}
			index = meta.LastIndex
			cur := viewOfAlloc(a)
			aw.update(cur, cur.terminal())
			if cur.terminal() {
				return
			}
		}
	}()
	return aw
}

func (aw *allocWatch) update(v *allocView, done bool) {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	if v != nil {
		aw.v = v
	}
	aw.done = done
	close(aw.changed)
	aw.changed = make(chan struct{})
}

// wait returns the alloc's state once cond holds (true), or once the alloc
// can no longer change or ctx ended (false).
func (aw *allocWatch) wait(ctx context.Context, cond func(*allocView) bool) (*allocView, bool) {
	for {
		aw.mu.Lock()
		v, done, changed := aw.v, aw.done, aw.changed
		aw.mu.Unlock()
		if cond(v) {
			return v, true
		}
		if done {
			return v, false
		}
		select {
		case <-ctx.Done():
			return v, false
		case <-changed:
		}
	}
}

// lineWriter writes whole lines to out under mu, each with prefix, so
// streams written concurrently never interleave inside a line.
type lineWriter struct {
	out    io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func newLineWriter(out io.Writer, mu *sync.Mutex, prefix string) *lineWriter {
	return &lineWriter{out: out, mu: mu, prefix: prefix}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 {
		return len(p), nil
	}
	if err := l.emit(l.buf[:i+1]); err != nil {
		return 0, err
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	return len(p), nil
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		_ = l.emit(append(l.buf, '\n'))
		l.buf = l.buf[:0]
	}
}

func (l *lineWriter) emit(lines []byte) error {
	var b bytes.Buffer
	if l.prefix == "" {
		b.Write(lines)
	} else {
		for _, line := range bytes.SplitAfter(lines, []byte("\n")) {
			if len(line) > 0 {
				b.WriteString(l.prefix)
				b.Write(line)
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.out.Write(b.Bytes())
	return err
}

// tailLines keeps the last n lines of b (all of b when n <= 0).
func tailLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// taskStateDead is TaskState.State of a task that ended.
const taskStateDead = "dead"
