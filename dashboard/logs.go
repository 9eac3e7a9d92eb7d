package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
)

const (
	// pageLogLines is how many of the last log lines the job page shows.
	pageLogLines = 200
	// filteredTail is how many lines are read to find pageLogLines lines
	// of one rank.
	filteredTail = 2000
	// controllerLogLines is how many of the controller log's last lines
	// the job page shows.
	controllerLogLines = 1000
	// logReadTimeout bounds the job page's log reads: a slow engine costs
	// the page its log, not its answer.
	logReadTimeout = 3 * time.Second
	// maxLogRead caps the bytes a page reads of one log.
	maxLogRead = 8 << 20
	// maxLineBytes cuts longer lines into pieces.
	maxLineBytes = 64 << 10
)

// logSelection is the job page's log choice: a task (nil: all) and a node
// rank (nil: every line).
type logSelection struct {
	task *int
	rank *int
}

func parseLogSelection(q url.Values) (logSelection, error) {
	var sel logSelection
	for _, p := range []struct {
		name string
		dst  **int
		what string
	}{{"task", &sel.task, "task index"}, {"rank", &sel.rank, "node rank"}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return sel, fmt.Errorf("%s %q is not a %s (0, 1, ...)", p.name, v, p.what)
		}
		*p.dst = &n
	}
	return sel, nil
}

// keep reports whether a log line passes the rank filter.
func (s logSelection) keep(line string) bool {
	if s.rank == nil || strings.HasPrefix(line, "==> ") { // pipeline task headers stay
		return true
	}
	r, ok := lineRank(line)
	return ok && r == *s.rank
}

// lineRank reads the node rank from the runner's line prefix (package
// driver): "(workerR, rank=R, pid=N) " on rank R > 0, "(<task>, pid=N) " on
// rank 0. Setup lines ("(setup pid=N) ") and lines without a prefix name
// no rank.
func lineRank(line string) (int, bool) {
	if !strings.HasPrefix(line, "(") {
		return 0, false
	}
	i := strings.Index(line, ", pid=")
	if i < 0 {
		return 0, false
	}
	j := i + len(", pid=")
	k := j
	for k < len(line) && line[k] >= '0' && line[k] <= '9' {
		k++
	}
	if k == j || k >= len(line) || line[k] != ')' {
		return 0, false
	}
	head := line[1:i]
	if r := strings.LastIndex(head, ", rank="); r >= 0 && strings.HasPrefix(head, "worker") {
		n, err := strconv.Atoi(head[r+len(", rank="):])
		return n, err == nil
	}
	return 0, true
}

// splitLines is a bufio.SplitFunc for log lines: it ends lines at \n, \r\n
// or a lone \r (SSE data cannot hold either), and cuts lines longer than
// maxLineBytes at a character boundary.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if !atEOF {
			return 0, nil, nil // a \n may follow
		}
		return i + 1, data[:i], nil
	}
	if len(data) >= maxLineBytes {
		n := maxLineBytes
		for n > maxLineBytes-utf8.UTFMax && !utf8.RuneStart(data[n]) {
			n--
		}
		return n, data[:n], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func newLineScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 32<<10), 2*maxLineBytes)
	sc.Split(splitLines)
	return sc
}

// logText is a log excerpt for a <pre>, with a note on what is missing.
type logText struct {
	Text string
	Note string
}

// lastLines reads rc (until ctx ends) and keeps its last n lines that
// keep accepts.
func lastLines(ctx context.Context, rc io.ReadCloser, n int, keep func(string) bool) logText {
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() }) // unblocks a read the reader does not end itself
	defer stop()
	ring := make([]string, 0, n)
	next, dropped := 0, false
	sc := newLineScanner(io.LimitReader(rc, maxLogRead))
	for sc.Scan() {
		line := sc.Text()
		if !keep(line) {
			continue
		}
		if len(ring) < n {
			ring = append(ring, line)
			continue
		}
		ring[next] = line
		next = (next + 1) % n
		dropped = true
	}
	var lt logText
	lines := append(ring[next:len(ring):len(ring)], ring[:next]...)
	lt.Text = strings.Join(lines, "\n")
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		lt.Note = fmt.Sprintf("The log did not finish within %s: it may miss its latest lines.", logReadTimeout)
	case sc.Err() != nil && ctx.Err() == nil && !errors.Is(sc.Err(), io.ErrClosedPipe):
		lt.Note = "Reading the log failed: " + sc.Err().Error()
	case dropped:
		lt.Note = fmt.Sprintf("The last %d lines.", n)
	}
	return lt
}

// logsView is the job page's log section.
type logsView struct {
	JobID     int64
	Tasks     []navLink
	Ranks     []navLink
	TaskValue string // the selected task, for the rank form
	RankValue string
	Log       logText
	StreamURL string
	PlainURL  string
}

type navLink struct {
	Label   string
	URL     string
	Current bool
}

func (d *Dashboard) logsView(ctx context.Context, j api.Job, sel logSelection) logsView {
	lv := logsView{JobID: j.ID}
	stream, plain := url.Values{}, url.Values{}
	if sel.task != nil {
		lv.TaskValue = strconv.Itoa(*sel.task)
		stream.Set("task", lv.TaskValue)
		plain.Set("task", lv.TaskValue)
	}
	if sel.rank != nil {
		lv.RankValue = strconv.Itoa(*sel.rank)
		stream.Set("rank", lv.RankValue)
		plain.Set("rank", lv.RankValue)
	}
	lv.StreamURL = withQuery(jobURL(j.ID)+"/logs/stream", stream)
	lv.PlainURL = withQuery(jobURL(j.ID)+"/log", plain)
	if len(j.Tasks) > 1 {
		lv.Tasks = append(lv.Tasks, navLink{Label: "all tasks", URL: taskURL(j.ID, nil, sel.rank), Current: sel.task == nil})
		for _, t := range j.Tasks {
			lv.Tasks = append(lv.Tasks, navLink{
				Label: fmt.Sprintf("task %d: %s", t.Index, t.Name), URL: taskURL(j.ID, &t.Index, sel.rank),
				Current: sel.task != nil && *sel.task == t.Index,
			})
		}
	}
	if nodes := maxNodes(j, sel.task); nodes > 1 || sel.rank != nil {
		lv.Ranks = append(lv.Ranks, navLink{Label: "all ranks", URL: taskURL(j.ID, sel.task, nil), Current: sel.rank == nil})
		for r := range min(nodes, 64) {
			lv.Ranks = append(lv.Ranks, navLink{Label: "rank " + strconv.Itoa(r), URL: taskURL(j.ID, sel.task, &r),
				Current: sel.rank != nil && *sel.rank == r})
		}
	}
	tail := pageLogLines
	if sel.rank != nil {
		tail = filteredTail
	}
	ctx, cancel := context.WithTimeout(ctx, logReadTimeout)
	defer cancel()
	rc, err := d.b.Logs(ctx, j.ID, sel.task, engine.LogOptions{Tail: tail})
	if err != nil {
		lv.Log.Note = "The log cannot be read: " + err.Error()
		return lv
	}
	lv.Log = lastLines(ctx, rc, pageLogLines, sel.keep)
	return lv
}

// maxNodes reads the node count from the Requested column ("2x [...]")
// of the selected task, or the largest of all tasks.
func maxNodes(j api.Job, task *int) int {
	n := 1
	for _, t := range j.Tasks {
		if task != nil && t.Index != *task {
			continue
		}
		req := t.Requested
		if i := strings.IndexByte(req, 'x'); i > 0 {
			if k, err := strconv.Atoi(req[:i]); err == nil {
				n = max(n, k)
			}
		}
	}
	return n
}

func (d *Dashboard) controllerLogTail(ctx context.Context, id int64) logText {
	ctx, cancel := context.WithTimeout(ctx, logReadTimeout)
	defer cancel()
	rc, err := d.b.ControllerLog(ctx, id, false)
	if err != nil {
		return logText{Note: "The controller log cannot be read: " + err.Error()}
	}
	return lastLines(ctx, rc, controllerLogLines, func(string) bool { return true })
}

// plainLog serves GET /jobs/{id}/log[?task=N][&rank=R]: the whole log as
// text, for pages without script and for pool workers' setup output.
func (d *Dashboard) plainLog(w http.ResponseWriter, r *http.Request) {
	id, sel, ok := d.logRequest(w, r)
	if !ok {
		return
	}
	rc, err := d.b.Logs(r.Context(), id, sel.task, engine.LogOptions{})
	if err != nil {
		d.backendFailed(w, r, fmt.Sprintf("the log of job %d", id), err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if sel.rank == nil {
		if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
			d.log.Warn("dashboard: log copy ended early", "job", id, "err", err)
		}
		return
	}
	bw := bufio.NewWriter(w)
	sc := newLineScanner(rc)
	for sc.Scan() {
		if line := sc.Text(); sel.keep(line) {
			bw.WriteString(line)
			bw.WriteByte('\n')
		}
	}
	bw.Flush()
}

// logStream serves GET /jobs/{id}/logs/stream[?task=N][&rank=R]: the log's
// last lines, then what follows until the job ends, as server-sent
// events: "event: start" first (the page drops what it rendered), a
// "data:" event per line, "event: end" at the end.
func (d *Dashboard) logStream(w http.ResponseWriter, r *http.Request) {
	id, sel, ok := d.logRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	tail := pageLogLines
	if sel.rank != nil {
		tail = filteredTail
	}
	rc, err := d.b.Logs(ctx, id, sel.task, engine.LogOptions{Follow: true, Tail: tail})
	if err != nil {
		d.backendFailed(w, r, fmt.Sprintf("the log of job %d", id), err)
		return
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()

	lines := make(chan string, 256)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := newLineScanner(rc)
		for sc.Scan() {
			line := sc.Text()
			if !sel.keep(line) {
				continue
			}
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()

	sse := newSSE(w)
	sse.event("start", "")
	sse.flush()
	tick := time.NewTicker(d.heartbeat)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				var err error
				select {
				case err = <-readErr: // sent before lines closed
				default: // the reader stopped for the client's sake
				}
				if err != nil && ctx.Err() == nil && !errors.Is(err, io.ErrClosedPipe) {
					d.log.Warn("dashboard: log stream ended early", "job", id, "err", err)
					sse.event("logerror", err.Error())
				}
				sse.event("end", "")
				sse.flush()
				return
			}
			sse.data(line)
			if len(lines) == 0 { // flush once the burst is written
				if sse.flush() != nil {
					return
				}
			}
		case <-tick.C:
			sse.comment("ping")
			if sse.flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// logRequest reads the job id and the log selection of a job page or log
// request; when they are bad it has answered.
func (d *Dashboard) logRequest(w http.ResponseWriter, r *http.Request) (int64, logSelection, bool) {
	id, ok := d.jobID(w, r)
	if !ok {
		return 0, logSelection{}, false
	}
	sel, err := parseLogSelection(r.URL.Query())
	if err != nil {
		d.fail(w, http.StatusBadRequest, err.Error())
		return 0, logSelection{}, false
	}
	return id, sel, true
}
