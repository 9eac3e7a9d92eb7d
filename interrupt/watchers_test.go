package interrupt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newLocalServer starts an httptest server on 127.0.0.1 only.
func newLocalServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return newLocalServerTB(t, h)
}

func newLocalServerTB(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := newUnstartedLocalServer(t, h)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newUnstartedLocalServer is an httptest server bound to 127.0.0.1; the
// caller starts and closes it.
func newUnstartedLocalServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
}

// instantAfter is an After that fires at once, so poll loops run without
// waiting; it counts the pauses.
type instantAfter struct{ n atomic.Int64 }

func (a *instantAfter) After(time.Duration) <-chan time.Time {
	a.n.Add(1)
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// fakeIMDS answers like EC2's IMDSv2 for the two paths the watcher reads.
type fakeIMDS struct {
	mu          sync.Mutex
	tokens      map[string]bool
	issued      int
	ttlHeaders  []string
	polls       int // instance-action GETs with a valid token
	noticeAfter int // polls answered 404 before the notice shows
	action      string
	actionTime  func() string // recomputed per request, as AEMM does
	rebalance   string        // noticeTime; empty for 404
	expireOnce  bool          // reject the next valid token once with 401
	noTokenGets int
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == awsTokenPath {
		if r.Method != http.MethodPut {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		f.ttlHeaders = append(f.ttlHeaders, r.Header.Get(awsTokenTTLHdr))
		f.issued++
		tok := fmt.Sprintf("token-%d", f.issued)
		f.tokens[tok] = true
		io.WriteString(w, tok)
		return
	}
	tok := r.Header.Get(awsTokenHdr)
	if tok == "" {
		f.noTokenGets++
	}
	if !f.tokens[tok] {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if f.expireOnce {
		f.expireOnce = false
		delete(f.tokens, tok)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case awsActionPath:
		f.polls++
		if f.polls <= f.noticeAfter || f.action == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"action": %q, "time": %q}`, f.action, f.actionTime())
	case awsRebalancePath:
		if f.rebalance == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"noticeTime": %q}`, f.rebalance)
	default:
		http.NotFound(w, r)
	}
}

func TestAWSWatcher(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fixedTime := func() string { return "2026-11-28T12:02:00Z" }
	tick := 0
	movingTime := func() string {
		tick++
		return now.Add(2*time.Minute + time.Duration(tick)*time.Second).Format(time.RFC3339)
	}
	tests := []struct {
		name      string
		imds      *fakeIMDS
		rebalance bool
		want      []Notice
		wantErr   bool
		wantPolls int
		wantToken int // tokens issued
	}{
		{
			name:      "404 until the notice, then action and time",
			imds:      &fakeIMDS{noticeAfter: 3, action: "terminate", actionTime: fixedTime},
			want:      []Notice{{Cloud: CloudAWS, Action: ActionTerminate, NoticeTime: now, Deadline: now.Add(2 * time.Minute)}},
			wantPolls: 4, wantToken: 1,
		},
		{
			name:      "a rejected token is renewed",
			imds:      &fakeIMDS{action: "stop", actionTime: fixedTime, expireOnce: true},
			want:      []Notice{{Cloud: CloudAWS, Action: ActionStop, NoticeTime: now, Deadline: now.Add(2 * time.Minute)}},
			wantPolls: 1, wantToken: 2,
		},
		{
			name:      "rebalance recommendation, then the interruption",
			imds:      &fakeIMDS{noticeAfter: 2, action: "hibernate", actionTime: fixedTime, rebalance: "2026-11-28T11:59:00Z"},
			rebalance: true,
			want: []Notice{
				{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: now.Add(-time.Minute)},
				{Cloud: CloudAWS, Action: ActionHibernate, NoticeTime: now, Deadline: now.Add(2 * time.Minute)},
			},
			wantPolls: 3, wantToken: 1,
		},
		{
			name:      "rebalance not read unless asked",
			imds:      &fakeIMDS{noticeAfter: 1, action: "terminate", actionTime: fixedTime, rebalance: "2026-11-28T11:59:00Z"},
			want:      []Notice{{Cloud: CloudAWS, Action: ActionTerminate, NoticeTime: now, Deadline: now.Add(2 * time.Minute)}},
			wantPolls: 2, wantToken: 1,
		},
		{
			name:      "a notice whose time moves on every read is one notice",
			imds:      &fakeIMDS{action: "terminate", actionTime: movingTime},
			want:      []Notice{{Cloud: CloudAWS, Action: ActionTerminate, NoticeTime: now, Deadline: now.Add(2*time.Minute + time.Second)}},
			wantPolls: 1, wantToken: 1,
		},
		{
			name:    "unknown action is an error",
			imds:    &fakeIMDS{action: "reboot", actionTime: fixedTime},
			wantErr: true, wantPolls: 1, wantToken: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.imds.tokens = map[string]bool{}
			srv := newLocalServer(t, tc.imds)
			after := &instantAfter{}
			w := NewAWSWatcher(WatcherOptions{Endpoint: srv.URL, Now: func() time.Time { return now }, After: after.After, Rebalance: tc.rebalance})
			var got []Notice
			for range tc.want {
				n, err := w.Next(context.Background())
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				got = append(got, n)
			}
			if tc.wantErr {
				_, err := w.Next(context.Background())
				if !IsMetadataError(err) {
					t.Fatalf("Next error = %v; want a metadata error", err)
				}
			} else {
				// Nothing new after that: Next keeps polling until ctx ends.
				ctx, cancel := context.WithCancel(context.Background())
				pauses := after.n.Load()
				go func() {
					for after.n.Load() < pauses+3 {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
				if n, err := w.Next(ctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("Next after the last notice = %v, %v; want to block until cancelled", n, err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			tc.imds.mu.Lock()
			defer tc.imds.mu.Unlock()
			if tc.imds.polls < tc.wantPolls {
				t.Errorf("instance-action read %d times before the last notice; want at least %d", tc.imds.polls, tc.wantPolls)
			}
			if tc.imds.issued != tc.wantToken {
				t.Errorf("tokens issued = %d; want %d", tc.imds.issued, tc.wantToken)
			}
			for _, ttl := range tc.imds.ttlHeaders {
				if ttl != "21600" {
					t.Errorf("token TTL header = %q; want 21600", ttl)
				}
			}
			if tc.imds.noTokenGets > 0 {
				t.Errorf("%d reads without a token", tc.imds.noTokenGets)
			}
		})
	}
}

// fakeGCE answers instance/preempted as the GCE metadata server does:
// Metadata-Flavor required, an ETag per value, wait_for_change holding the
// request until the value differs from last_etag or timeout_sec passes.
type fakeGCE struct {
	mu      sync.Mutex
	value   string
	etag    int
	changed chan struct{} // closed and replaced on every change
	waits   int           // wait_for_change requests received
	queries []string
}

func newFakeGCE(value string) *fakeGCE {
	return &fakeGCE{value: value, etag: 1, changed: make(chan struct{})}
}

func (f *fakeGCE) set(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.etag = v, f.etag+1
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeGCE) Waits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waits
}

func (f *fakeGCE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	if r.URL.Path != gcpPreemptedPath {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	if q.Get("wait_for_change") == "true" {
		f.waits++
		if q.Get("last_etag") == strconv.Itoa(f.etag) {
			timeout := 60 * time.Second
			if s, err := strconv.Atoi(q.Get("timeout_sec")); err == nil {
				timeout = time.Duration(s) * time.Second
			}
			ch := f.changed
			f.mu.Unlock()
			select {
			case <-ch:
			case <-time.After(timeout):
			case <-r.Context().Done():
				return
			}
			f.mu.Lock()
		}
	}
	v, etag := f.value, f.etag
	f.mu.Unlock()
	w.Header().Set("ETag", strconv.Itoa(etag))
	w.Header().Set("Metadata-Flavor", "Google")
	io.WriteString(w, v)
}

func TestGCPWatcher(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	want := Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: now, Deadline: now.Add(30 * time.Second)}

	t.Run("long poll times out with FALSE, then TRUE", func(t *testing.T) {
		t.Parallel()
		gce := newFakeGCE("FALSE")
		srv := newLocalServer(t, gce)
		w := NewGCPWatcher(WatcherOptions{Endpoint: srv.URL, Now: func() time.Time { return now }, LongPollTimeout: time.Second, PollInterval: 10 * time.Millisecond})
		go func() {
			// The first long poll ends by its timeout with FALSE; flip
			// while the second one waits.
			for gce.Waits() < 2 {
				time.Sleep(5 * time.Millisecond)
			}
			gce.set("TRUE")
		}()
		got, err := w.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("notice (-want +got):\n%s", diff)
		}
		gce.mu.Lock()
		defer gce.mu.Unlock()
		wantQueries := []string{"", "last_etag=1&timeout_sec=1&wait_for_change=true", "last_etag=1&timeout_sec=1&wait_for_change=true"}
		if diff := cmp.Diff(wantQueries, gce.queries); diff != "" {
			t.Errorf("queries (-want +got):\n%s", diff)
		}
	})

	t.Run("already preempted is reported at once", func(t *testing.T) {
		t.Parallel()
		gce := newFakeGCE("TRUE")
		srv := newLocalServer(t, gce)
		w := NewGCPWatcher(WatcherOptions{Endpoint: srv.URL, Now: func() time.Time { return now }})
		got, err := w.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("notice (-want +got):\n%s", diff)
		}
		// Reported once: the next call waits for a change.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if n, err := w.Next(ctx); err == nil {
			t.Errorf("second Next = %v; want it to wait", n)
		}
	})

	t.Run("a server that does not hold the long poll is not hammered", func(t *testing.T) {
		t.Parallel()
		var requests atomic.Int64
		srv := newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("ETag", "same")
			io.WriteString(w, "FALSE")
		}))
		after := &instantAfter{}
		w := NewGCPWatcher(WatcherOptions{Endpoint: srv.URL, After: after.After})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for after.n.Load() < 5 && requests.Load() < 50 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		if _, err := w.Next(ctx); !errors.Is(err, context.Canceled) && !IsMetadataError(err) {
			t.Fatalf("Next = %v; want to wait until cancelled", err)
		}
		// One plain read, then one pause per unchanged long poll.
		if r, p := requests.Load(), after.n.Load(); r > p+2 {
			t.Errorf("%d requests for %d pauses; want a pause after every unchanged long poll", r, p)
		}
	})

	t.Run("unexpected answer is a metadata error", func(t *testing.T) {
		t.Parallel()
		srv := newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusForbidden)
		}))
		w := NewGCPWatcher(WatcherOptions{Endpoint: srv.URL})
		if _, err := w.Next(context.Background()); !IsMetadataError(err) {
			t.Errorf("Next error = %v; want a metadata error", err)
		}
	})
}

// fakeAzure serves a Scheduled Events document and records StartRequests.
type fakeAzure struct {
	mu       sync.Mutex
	doc      string
	acks     []string // raw POST bodies
	onAck    func()
	badHdr   int
	apiCalls []string
}

func (f *fakeAzure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiCalls = append(f.apiCalls, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	if r.Header.Get("Metadata") != "true" {
		f.badHdr++
		http.Error(w, `{"error":"Bad request. Required metadata header not specified"}`, http.StatusBadRequest)
		return
	}
	if r.URL.Path != "/metadata/scheduledevents" || r.URL.Query().Get("api-version") != "2020-07-01" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		io.WriteString(w, f.doc)
	case http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		f.acks = append(f.acks, string(b))
		if f.onAck != nil {
			f.onAck()
		}
	}
}

func azureDoc(notBefore time.Time) string {
	nb := notBefore.UTC().Format(time.RFC1123)
	return `{
  "DocumentIncarnation": 3,
  "Events": [
    {"EventId": "f020ba2e-3bc0-4c40-a10b-86575a9eabd5", "EventType": "Freeze", "ResourceType": "VirtualMachine",
     "Resources": ["sky-spot-1"], "EventStatus": "Scheduled", "NotBefore": "` + nb + `", "Description": "", "EventSource": "Platform", "DurationInSeconds": 5},
    {"EventId": "0a4c8f5d-4a55-4c0e-9a5b-1b2a0b7c0d11", "EventType": "Preempt", "ResourceType": "VirtualMachine",
     "Resources": ["sky-spot-2"], "EventStatus": "Scheduled", "NotBefore": "` + nb + `", "Description": "", "EventSource": "Platform", "DurationInSeconds": -1},
    {"EventId": "C7061BAC-AFDC-4513-B24B-AA5F13A16123", "EventType": "Preempt", "ResourceType": "VirtualMachine",
     "Resources": ["sky-spot-1"], "EventStatus": "Scheduled", "NotBefore": "` + nb + `", "Description": "", "EventSource": "Platform", "DurationInSeconds": -1}
  ]
}`
}

func TestAzureWatcher(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	notBefore := now.Add(30 * time.Second)
	az := &fakeAzure{doc: `{"DocumentIncarnation": 2, "Events": []}`}
	srv := newLocalServer(t, az)
	after := &instantAfter{}
	w := NewAzureWatcher(WatcherOptions{Endpoint: srv.URL, VMName: "SKY-SPOT-1", Now: func() time.Time { return now },
		After: func(d time.Duration) <-chan time.Time {
			if after.n.Load() == 2 { // the event shows up after three reads
				az.mu.Lock()
				az.doc = azureDoc(notBefore)
				az.mu.Unlock()
			}
			return after.After(d)
		}})
	got, err := w.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Notice{Cloud: CloudAzure, Action: ActionPreempt, NoticeTime: now, Deadline: notBefore, EventID: "C7061BAC-AFDC-4513-B24B-AA5F13A16123"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notice (-want +got):\n%s", diff)
	}
	if err := w.Acknowledge(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	az.mu.Lock()
	defer az.mu.Unlock()
	if diff := cmp.Diff([]string{`{"StartRequests":[{"EventId":"C7061BAC-AFDC-4513-B24B-AA5F13A16123"}]}`}, az.acks); diff != "" {
		t.Errorf("acknowledgements (-want +got):\n%s", diff)
	}
	if az.badHdr > 0 {
		t.Errorf("%d requests without the Metadata header", az.badHdr)
	}
}

// TestAzureEndToEnd runs the handler with the Azure watcher: the event is
// acknowledged only after the allocations were stopped.
func TestAzureEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFakeNomad(testNode(), testAllocs()...)
	var stopsAtAck []string
	az := &fakeAzure{doc: azureDoc(time.Now().Add(3 * time.Second))}
	az.onAck = func() { stopsAtAck = f.Calls() }
	srv := newLocalServer(t, az)
	w := NewAzureWatcher(WatcherOptions{Endpoint: srv.URL, VMName: "sky-spot-1", PollInterval: 10 * time.Millisecond})
	h, err := newHandler(HandlerConfig{NodeID: "node-1", AllocRoot: t.TempDir(), StopMargin: 5 * time.Second, Logger: testLogger(t)}, w, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitFor(t, "the acknowledgement", 10*time.Second, func() bool {
		az.mu.Lock()
		defer az.mu.Unlock()
		return len(az.acks) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	az.mu.Lock()
	defer az.mu.Unlock()
	want := []string{"ineligible node-1", "record a1", "signal a1 run SIGTERM", "record a2", "signal a2 setup SIGTERM", "stop a1", "stop a2"}
	if diff := cmp.Diff(want, stopsAtAck); diff != "" {
		t.Errorf("Nomad calls done when the event was acknowledged (-want +got):\n%s", diff)
	}
	var body struct{ StartRequests []struct{ EventId string } }
	if err := json.Unmarshal([]byte(az.acks[0]), &body); err != nil {
		t.Fatal(err)
	}
	if len(az.acks) != 1 || len(body.StartRequests) != 1 || body.StartRequests[0].EventId != "C7061BAC-AFDC-4513-B24B-AA5F13A16123" {
		t.Errorf("acknowledgements = %v; want one StartRequest for this VM's Preempt event", az.acks)
	}
}
