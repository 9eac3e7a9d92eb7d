package jobs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxOpenLogs bounds the controller-log files kept open between writes.
const maxOpenLogs = 64

// jobLogs writes the per-job controller logs: plain text, one timestamped
// line per event, appended to <dir>/<job id>.log.
//
// Lines are queued and written by one goroutine, so neither an API call
// nor the controller loop waits for the file system (creating a file can
// take a millisecond). The files of the jobs most recently written to stay
// open (at most maxOpenLogs); a job's file is closed when the job finishes,
// so thousands of jobs hold no descriptors. sync waits until everything
// queued so far is written.
type jobLogs struct {
	dir    string
	now    func() time.Time
	notify func(id int64)
	log    *slog.Logger

	mu      sync.Mutex
	written *sync.Cond
	queue   []logOp
	queued  uint64 // ops ever queued
	done    uint64 // ops ever handled
	wake    chan struct{}
	stopped bool

	// Writer-owned.
	open map[int64]*logFile
	tick uint64
}

type logOp struct {
	id    int64
	line  string
	close bool // close the job's file instead
}

type logFile struct {
	f    *os.File
	used uint64
}

func newJobLogs(dir string, now func() time.Time, notify func(int64), log *slog.Logger) *jobLogs {
	l := &jobLogs{dir: dir, now: now, notify: notify, log: log, wake: make(chan struct{}, 1), open: map[int64]*logFile{}}
	l.written = sync.NewCond(&l.mu)
	go l.run()
	return l
}

func (l *jobLogs) path(id int64) string {
	return filepath.Join(l.dir, strconv.FormatInt(id, 10)+".log")
}

// printf queues one line for the job's log.
func (l *jobLogs) printf(id int64, format string, args ...any) {
	line := l.now().Format("2006-01-02 15:04:05.000 ") + fmt.Sprintf(format, args...) + "\n"
	l.enqueue(logOp{id: id, line: line})
}

// close queues closing a finished job's file.
func (l *jobLogs) close(id int64) { l.enqueue(logOp{id: id, close: true}) }

func (l *jobLogs) enqueue(op logOp) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, op)
	l.queued++
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// sync waits until every line queued before the call is written.
func (l *jobLogs) sync() {
	l.mu.Lock()
	defer l.mu.Unlock()
	target := l.queued
	for l.done < target && !l.stopped {
		l.written.Wait()
	}
}

// stop writes what is queued, closes every file and ends the writer.
func (l *jobLogs) stop() {
	l.sync()
	l.mu.Lock()
	l.stopped = true
	l.written.Broadcast()
	l.mu.Unlock()
	close(l.wake)
}

func (l *jobLogs) run() {
	for range l.wake {
		for {
			l.mu.Lock()
			ops := l.queue
			l.queue = nil
			l.mu.Unlock()
			if len(ops) == 0 {
				break
			}
			l.handle(ops)
			l.mu.Lock()
			l.done += uint64(len(ops))
			l.written.Broadcast()
			l.mu.Unlock()
		}
	}
	for id, lf := range l.open {
		lf.f.Close()
		delete(l.open, id)
	}
}

// handle writes a batch: the lines of each job in one write, in order.
func (l *jobLogs) handle(ops []logOp) {
	var order []int64
	lines := map[int64]*strings.Builder{}
	flush := func() {
		for _, id := range order {
			if err := l.write(id, lines[id].String()); err != nil {
				l.log.Warn("controller log write failed", "job", id, "err", err)
			}
			if l.notify != nil {
				l.notify(id)
			}
		}
		order, lines = order[:0], map[int64]*strings.Builder{}
	}
	for _, op := range ops {
		if op.close {
			flush()
			if lf, ok := l.open[op.id]; ok {
				lf.f.Close()
				delete(l.open, op.id)
			}
			continue
		}
		b, ok := lines[op.id]
		if !ok {
			b = &strings.Builder{}
			lines[op.id] = b
			order = append(order, op.id)
		}
		b.WriteString(op.line)
	}
	flush()
}

func (l *jobLogs) write(id int64, text string) error {
	lf, ok := l.open[id]
	if !ok {
		if len(l.open) >= maxOpenLogs {
			l.evict()
		}
		f, err := os.OpenFile(l.path(id), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		lf = &logFile{f: f}
		l.open[id] = lf
	}
	l.tick++
	lf.used = l.tick
	if _, err := lf.f.WriteString(text); err != nil {
		lf.f.Close()
		delete(l.open, id)
		return err
	}
	return nil
}

// evict closes the least recently written quarter of the open files.
func (l *jobLogs) evict() {
	ids := make([]int64, 0, len(l.open))
	for id := range l.open {
		ids = append(ids, id)
	}
	n := max(len(ids)/4, 1)
	for i := 0; i < n; i++ { // partial selection of the n least recently used
		least := i
		for j := i + 1; j < len(ids); j++ {
			if l.open[ids[j]].used < l.open[ids[least]].used {
				least = j
			}
		}
		ids[i], ids[least] = ids[least], ids[i]
	}
	for _, id := range ids[:n] {
		l.open[id].f.Close()
		delete(l.open, id)
	}
}
