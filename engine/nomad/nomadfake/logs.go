package nomadfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// logFrame is a StreamFrame as Nomad writes it: Data (base64), File,
// Offset, back to back without separators (scenario 2).
type logFrame struct {
	Data   []byte
	File   string
	Offset int
}

// handleLogs is GET /v1/client/fs/logs/<alloc>: plain or framed, with
// origin/offset (recorded, scenario 2), and follow (beyond the recordings,
// which only hold follow=false). A followed log stays open after its task
// is dead, until the caller hangs up or the fake closes: observed on a
// Nomad 1.6.1 dev agent, where a followed raw_exec task log was still open
// a minute after the task ended. Answers for an
// unknown alloc or a task that never started are the recorded 404s; an
// unknown task name or log type is a 400 (beyond the recordings).
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	task, typ := q.Get("task"), q.Get("type")
	plain, follow := q.Get("plain") == "true", q.Get("follow") == "true"
	offset, _ := strconv.Atoi(q.Get("offset"))
	origin := q.Get("origin")

	s.mu.Lock()
	a := s.allocs[id]
	if a == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown allocation %q", id))
		return
	}
	if typ != "stdout" && typ != "stderr" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "must specify a valid log type (stdout or stderr)")
		return
	}
	known := false
	for _, tk := range s.allocTasks(a) {
		known = known || tk.Name == task
	}
	if !known {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown task name %q", task))
		return
	}
	ts := a.a.TaskStates[task]
	if ts == nil || ts.StartedAt.IsZero() {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("task %q not started yet. No logs available", task))
		return
	}
	key := task + "." + typ
	pos := offset
	if origin == "end" {
		pos = len(a.logs[key]) - offset
	}
	pos = max(0, min(pos, len(a.logs[key])))
	s.mu.Unlock()

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	if plain {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(http.StatusOK)
	file := fmt.Sprintf("alloc/logs/%s.%s.0", task, typ)
	for {
		s.mu.Lock()
		data := a.logs[key]
		chunk := append([]byte(nil), data[pos:]...)
		closed := s.closed
		changed := s.changed
		s.mu.Unlock()
		if len(chunk) > 0 {
			pos += len(chunk)
			var err error
			if plain {
				_, err = w.Write(chunk)
			} else {
				var b []byte
				if b, err = json.Marshal(logFrame{Data: chunk, File: file, Offset: pos}); err == nil {
					_, err = w.Write(b)
				}
			}
			if err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if !follow || closed {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
