package nomadfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type subscriber struct {
	topics map[string][]string // topic ("*" for all) → keys ("*" for all)
	ch     chan *frame
	done   chan struct{}
}

// subscriberQueue is how many frames a slow reader may lag before it is
// dropped, as Nomad drops slow event-stream consumers.
const subscriberQueue = 4096

func (s *Server) publish(f *frame) {
	s.buffer = append(s.buffer, f)
	if over := len(s.buffer) - s.opts.BufferSize; over > 0 {
		s.buffer = slices.Delete(s.buffer, 0, over)
	}
	for sub := range s.subs {
		select {
		case sub.ch <- f:
		default:
			close(sub.done)
			delete(s.subs, sub)
		}
	}
}

func (s *Server) dropStreams() int {
	n := len(s.subs)
	for sub := range s.subs {
		close(sub.done)
		delete(s.subs, sub)
	}
	return n
}

func parseTopics(values []string) map[string][]string {
	topics := map[string][]string{}
	for _, v := range values {
		topic, key, ok := strings.Cut(v, ":")
		if !ok {
			key = "*"
		}
		topics[topic] = append(topics[topic], key)
	}
	if len(topics) == 0 {
		topics["*"] = []string{"*"}
	}
	return topics
}

// match reports whether ev passes the subscription's filter: a key matches
// the event's Key or one of its FilterKeys (for allocations and evals, the
// job ID: "topic=Allocation:<job>" filters by job, scenario 7).
func (sub *subscriber) match(ev *wireEvent) bool {
	for _, topic := range []string{ev.Topic, "*"} {
		for _, key := range sub.topics[topic] {
			if key == "*" || key == ev.Key || slices.Contains(ev.FilterKeys, key) {
				return true
			}
		}
	}
	return false
}

func (sub *subscriber) filter(f *frame) *frame {
	out := &frame{Index: f.Index}
	for _, ev := range f.Events {
		if sub.match(ev) {
			out.Events = append(out.Events, ev)
		}
	}
	if len(out.Events) == 0 {
		return nil
	}
	return out
}

// handleEventStream is GET /v1/event/stream: ndjson frames, `{}` right away
// and as heartbeat; ?index=N replays buffered frames from N inclusive; no
// index (or 0) replays the whole buffer; an index older than the buffer
// starts silently at the oldest frame kept (all as recorded in scenario 7).
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var index uint64
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Unable to parse index: "+err.Error())
			return
		}
		index = n
	}
	sub := &subscriber{topics: parseTopics(q["topic"]), ch: make(chan *frame, subscriberQueue), done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "server closed")
		return
	}
	var replay []*frame
	for _, f := range s.buffer {
		if f.Index >= index {
			replay = append(replay, f)
		}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
		}
		s.mu.Unlock()
	}()

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(f *frame) bool {
		if f = sub.filter(f); f == nil {
			return true
		}
		if err := enc.Encode(map[string]any{"Index": f.Index, "Events": f.Events}); err != nil {
			return false
		}
		return true
	}
	heartbeat := func() bool {
		_, err := w.Write([]byte("{}\n"))
		if flusher != nil {
			flusher.Flush()
		}
		return err == nil
	}
	if !heartbeat() {
		return
	}
	for _, f := range replay {
		if !send(f) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	ticker := time.NewTicker(s.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case f := <-sub.ch:
			if !send(f) {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case <-ticker.C:
			if !heartbeat() {
				return
			}
		}
	}
}
