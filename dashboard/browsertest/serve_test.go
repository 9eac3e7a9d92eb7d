package browsertest

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/dashboard"
	"github.com/skynomad/skynomad/jobs/server"
)

// serve runs the controller's API server, with the dashboard at "/", on a
// loopback port until the test ends. It returns the base URL and the
// bearer token that signs in.
func (w *world) serve() (base, token string) {
	t := w.t
	t.Helper()
	token, csrf := rand.Text(), rand.Text()
	w.streams = newStreams(dashboard.New(dashboard.Config{Backend: w.ctrl, CSRF: csrf}))
	srv := server.New(server.Config{
		Backend:   w.ctrl,
		Token:     token,
		Dashboard: w.streams,
		Metrics:   nil,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), token
}

// start builds a world, serves it and opens a browser signed in to it,
// all bounded by testTimeout.
func start(t *testing.T) (*world, *browser) {
	t.Helper()
	path := chromium(t) // first: a test without Chromium skips at once
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	w := newWorld(t)
	base, token := w.serve()
	return w, newBrowser(t, ctx, path, base, token)
}

// streams watches the dashboard's live connections (GET /events) from
// around the real handler: it tells when one arrives and when it has
// started (its first flush: it has taken its starting point), each named by
// the page that opened it (its Referer), and can hold new ones before they
// reach the dashboard.
type streams struct {
	next    http.Handler
	arrived chan string
	started chan string

	mu   sync.Mutex
	gate chan struct{} // non-nil: new connections wait until it closes
}

func newStreams(next http.Handler) *streams {
	return &streams{next: next, arrived: make(chan string, 64), started: make(chan string, 64)}
}

func (s *streams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" {
		s.next.ServeHTTP(w, r)
		return
	}
	page := r.Referer()
	signal(s.arrived, page)
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	s.next.ServeHTTP(&flushWatch{ResponseWriter: w, flushed: func() { signal(s.started, page) }}, r)
}

// hold keeps the live connections that arrive from now on waiting.
func (s *streams) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

// pass lets the held connections and the next ones through.
func (s *streams) pass() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// await waits until a connection opened by the page at url is reported on
// ch (arrived or started).
func (s *streams) await(t *testing.T, ch <-chan string, url, what string) {
	t.Helper()
	timeout := time.After(pageTimeout)
	var seen []string
	for {
		select {
		case page := <-ch:
			if page == url {
				return
			}
			seen = append(seen, page)
		case <-timeout:
			t.Fatalf("timed out waiting for the live connection (GET /events) of %s to be %s; seen those of %q", url, what, seen)
		}
	}
}

func signal(ch chan<- string, v string) {
	select {
	case ch <- v:
	default:
	}
}

// flushWatch calls flushed once, after the first flush of the response.
type flushWatch struct {
	http.ResponseWriter
	once    sync.Once
	flushed func()
}

func (f *flushWatch) FlushError() error {
	err := http.NewResponseController(f.ResponseWriter).Flush()
	f.once.Do(f.flushed)
	return err
}

func (f *flushWatch) Flush() { f.FlushError() }

func (f *flushWatch) Unwrap() http.ResponseWriter { return f.ResponseWriter }
