package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/dashboard"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
)

// serve starts a loopback server for the test; it closes after the
// test's streams (cleanups run last first).
func serve(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// sseEvent is one server-sent event, or a comment.
type sseEvent struct {
	ID      string
	Event   string
	Data    []string
	Comment string
	Retry   string
}

// sseStream reads the events of a response as they come.
type sseStream struct {
	t      testing.TB
	events chan sseEvent
	cancel context.CancelFunc
	resp   *http.Response
}

// openSSE GETs url with the headers and reads its events until the test
// ends.
func openSSE(t testing.TB, url string, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{t: t, events: make(chan sseEvent, 100), cancel: cancel, resp: resp}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	go func() {
		defer close(s.events)
		br := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch {
			case line == "":
				s.events <- ev
				ev = sseEvent{}
			case name == "":
				ev.Comment = value
			case name == "id":
				ev.ID = value
			case name == "event":
				ev.Event = value
			case name == "data":
				ev.Data = append(ev.Data, value)
			case name == "retry":
				ev.Retry = value
			}
		}
	}()
	return s
}

// next returns the next event that is not a comment.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	for {
		ev := s.nextAny()
		if ev.Comment == "" {
			return ev
		}
	}
}

func (s *sseStream) nextAny() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no event within 5s")
	}
	return sseEvent{}
}

func jobEvent(t testing.TB, ev sseEvent) api.JobEvent {
	t.Helper()
	if ev.Event != "job" || len(ev.Data) != 1 {
		t.Fatalf("got %+v, want a job event with one data line", ev)
	}
	var je api.JobEvent
	if err := json.Unmarshal([]byte(ev.Data[0]), &je); err != nil {
		t.Fatalf("data %q: %v", ev.Data[0], err)
	}
	return je
}

func TestEventsDeliversJobChanges(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.publish(api.JobEvent{ID: 1, Status: api.StatusPending}) // before the page opened
	srv := serve(t, newDashboard(f, ""))

	s := openSSE(t, srv.URL+"/events", nil)
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if ev := s.next(); ev.Retry != "3000" { // the stream is set up: later changes reach it
		t.Fatalf("first event %+v, want the retry interval", ev)
	}
	f.publish(api.JobEvent{ID: 7, Status: api.StatusRunning, Pool: "gpu"})
	ev := s.next()
	if ev.ID != "2" {
		t.Errorf("event id %q, want the change's seq 2", ev.ID)
	}
	if diff := cmp.Diff(api.JobEvent{Seq: 2, ID: 7, Status: api.StatusRunning, Pool: "gpu"}, jobEvent(t, ev)); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	f.publish(api.JobEvent{ID: 8, Status: api.StatusSucceeded, Worker: true})
	if diff := cmp.Diff(api.JobEvent{Seq: 3, ID: 8, Status: api.StatusSucceeded, Worker: true}, jobEvent(t, s.next())); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestEventsResumesFromLastEventIDAndCoalesces(t *testing.T) {
	t.Parallel()
	f := newFake()
	for _, ev := range []api.JobEvent{
		{ID: 7, Status: api.StatusPending},   // 1: seen
		{ID: 7, Status: api.StatusStarting},  // 2
		{ID: 8, Status: api.StatusPending},   // 3
		{ID: 7, Status: api.StatusRunning},   // 4
		{ID: 8, Status: api.StatusCancelled}, // 5
	} {
		f.publish(ev)
	}
	srv := serve(t, newDashboard(f, ""))
	s := openSSE(t, srv.URL+"/events", http.Header{"Last-Event-ID": {"1"}})
	s.next() // retry
	var got []api.JobEvent
	got = append(got, jobEvent(t, s.next()), jobEvent(t, s.next()))
	f.publish(api.JobEvent{ID: 9, Status: api.StatusPending}) // 6
	got = append(got, jobEvent(t, s.next()))
	want := []api.JobEvent{
		{Seq: 4, ID: 7, Status: api.StatusRunning},
		{Seq: 5, ID: 8, Status: api.StatusCancelled},
		{Seq: 6, ID: 9, Status: api.StatusPending},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after Last-Event-ID 1 (-want +got):\n%s", diff)
	}
}

func TestEventsTellsALateReaderToReload(t *testing.T) {
	t.Parallel()
	f := newFake()
	for range feedSize + 5 {
		f.publish(api.JobEvent{ID: 1, Status: api.StatusRunning})
	}
	srv := serve(t, newDashboard(f, ""))
	s := openSSE(t, srv.URL+"/events", http.Header{"Last-Event-ID": {"2"}})
	s.next() // retry
	if ev := s.next(); ev.Event != "reload" {
		t.Errorf("got %+v, want a reload", ev)
	}

	// A controller's first change ever comes as a change, not a reload.
	fresh := newFake()
	srv2 := serve(t, newDashboard(fresh, ""))
	s2 := openSSE(t, srv2.URL+"/events", nil)
	s2.next() // retry
	fresh.publish(api.JobEvent{ID: 1, Status: api.StatusPending})
	if je := jobEvent(t, s2.next()); je.Seq != 1 || je.Status != api.StatusPending {
		t.Errorf("the first change: got %+v, want seq 1 PENDING", je)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	t.Parallel()
	f := newFake()
	d := dashboard.New(dashboard.Config{Backend: f, Heartbeat: 20 * time.Millisecond})
	srv := serve(t, d)
	s := openSSE(t, srv.URL+"/events", nil)
	s.next() // retry
	if ev := s.nextAny(); ev.Comment != "ping" {
		t.Errorf("got %+v, want a ping comment", ev)
	}
}

func TestLogStream(t *testing.T) {
	t.Parallel()
	f := newFake(job(4, "train", "alice", api.StatusRunning, time.Hour))
	f.logsFunc = func(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("(train, pid=1) one\r\ntwo\rthree\n\n" + logXSS + "\n(worker1, rank=1, pid=2) six\nlast, no newline")), nil
	}
	srv := serve(t, newDashboard(f, ""))

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?task=0", []string{"(train, pid=1) one", "two", "three", "", logXSS, "(worker1, rank=1, pid=2) six", "last, no newline"}},
		{"?rank=1", []string{"(worker1, rank=1, pid=2) six"}},
		{"?rank=0", []string{"(train, pid=1) one"}},
	} {
		s := openSSE(t, srv.URL+"/jobs/4/logs/stream"+tc.query, nil)
		if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if ev := s.next(); ev.Event != "start" {
			t.Fatalf("first event %+v, want start", ev)
		}
		var got []string
		for {
			ev := s.next()
			if ev.Event == "end" {
				break
			}
			if ev.Event != "" || len(ev.Data) != 1 {
				t.Fatalf("got %+v, want one data line per log line", ev)
			}
			got = append(got, ev.Data[0])
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: lines (-want +got):\n%s", tc.query, diff)
		}
	}
	calls := f.logsCalls()
	if c := calls[0]; c.id != 4 || c.task == nil || *c.task != 0 || c.opts != (engine.LogOptions{Follow: true, Tail: 200}) {
		t.Errorf("Logs call %+v, want job 4 task 0 following from the last 200 lines", c)
	}
}

func TestLogStreamStopsWhenTheClientLeaves(t *testing.T) {
	t.Parallel()
	f := newFake(job(4, "train", "alice", api.StatusRunning, time.Hour))
	writer := make(chan *io.PipeWriter, 1)
	f.logsFunc = func(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		writer <- pw
		return pr, nil // a log that never ends by itself
	}
	srv := serve(t, newDashboard(f, ""))
	s := openSSE(t, srv.URL+"/jobs/4/logs/stream", nil)
	pw := <-writer
	s.next() // start
	go pw.Write([]byte("hello\n"))
	if ev := s.next(); len(ev.Data) != 1 || ev.Data[0] != "hello" {
		t.Fatalf("got %+v, want the line hello", ev)
	}
	s.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := pw.Write([]byte("more\n")); errors.Is(err, io.ErrClosedPipe) {
			return // the dashboard closed the log
		}
		if time.Now().After(deadline) {
			t.Fatal("the log was not closed 5s after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogStreamOfAnUnknownJob(t *testing.T) {
	t.Parallel()
	f := newFake()
	res := get(t, newDashboard(f, ""), "/jobs/5/logs/stream")
	if res.code == http.StatusOK || strings.Contains(res.header.Get("Content-Type"), "event-stream") {
		t.Errorf("GET /jobs/5/logs/stream of no job: %d %s", res.code, res.header.Get("Content-Type"))
	}
}
