package dashboard

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
)

// sse writes server-sent events through a buffer; flush sends them.
type sse struct {
	w   *bufio.Writer
	rc  *http.ResponseController
	err error
}

func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering (nginx)
	w.WriteHeader(http.StatusOK)
	return &sse{w: bufio.NewWriterSize(w, 16<<10), rc: http.NewResponseController(w)}
}

// data writes an unnamed event (a "message") whose data is one line.
func (s *sse) data(line string) {
	s.field("data", line)
	s.w.WriteByte('\n')
}

// event writes a named event; data may hold several lines.
func (s *sse) event(name, data string) {
	s.field("event", name)
	for _, line := range strings.FieldsFunc(data, func(r rune) bool { return r == '\n' || r == '\r' }) {
		s.field("data", line)
	}
	if data == "" {
		s.field("data", "")
	}
	s.w.WriteByte('\n')
}

func (s *sse) field(name, value string) {
	s.w.WriteString(name)
	s.w.WriteString(": ")
	s.w.WriteString(value)
	s.w.WriteByte('\n')
}

// comment writes a comment line, which keeps idle connections open.
func (s *sse) comment(text string) {
	s.w.WriteString(": ")
	s.w.WriteString(text)
	s.w.WriteString("\n\n")
}

// flush sends what was written; an error means the client is gone.
func (s *sse) flush() error {
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// events serves GET /events: every job change as "event: job" with the
// api.JobEvent as JSON and its seq as the event id, "event: reload" when
// the reader fell behind the kept changes, and a comment every heartbeat.
// It waits on the backend's wake channel: an idle connection costs a
// parked goroutine and a timer.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Where the reader left off: the stream's last event id when it
	// reconnects, else the page's (?since=, the change it was read at).
	last := d.lastChange()
	seq := last // without either: from now
	for _, v := range []string{r.URL.Query().Get("since"), r.Header.Get("Last-Event-ID")} {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			seq = n
		}
	}
	if seq > last {
		seq = last // the controller restarted since: from now
	}
	s := newSSE(w)
	s.w.WriteString("retry: 3000\n\n")
	if s.flush() != nil {
		return
	}
	tick := time.NewTicker(d.heartbeat)
	defer tick.Stop()
	for {
		evs, lost, last, wake := d.b.JobEvents(seq)
		switch {
		case lost:
			s.w.WriteString("id: " + strconv.FormatUint(last, 10) + "\n")
			s.event("reload", "")
		case len(evs) > 0:
			writeJobEvents(s, evs)
		}
		if lost || len(evs) > 0 {
			if s.flush() != nil {
				return
			}
		}
		seq = last
		select {
		case <-wake:
		case <-tick.C:
			s.comment("ping")
			if s.flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// lastChange is the sequence number of the last job change.
func (d *Dashboard) lastChange() uint64 {
	_, _, last, _ := d.b.JobEvents(math.MaxUint64)
	return last
}

// writeJobEvents writes a batch, each job once: its latest change.
func writeJobEvents(s *sse, evs []api.JobEvent) {
	latest := make(map[int64]int, len(evs))
	for i, ev := range evs {
		latest[ev.ID] = i
	}
	for i, ev := range evs {
		if latest[ev.ID] != i {
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		s.field("id", strconv.FormatUint(ev.Seq, 10))
		s.field("event", "job")
		s.field("data", string(b))
		s.w.WriteByte('\n')
	}
}
