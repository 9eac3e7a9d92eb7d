package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skynomad/skynomad/dashboard"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
)

// now is the tests' clock.
var now = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// logCall records one Logs call.
type logCall struct {
	id   int64
	task *int
	opts engine.LogOptions
}

// fakeBackend answers from fixed data, records what it was asked, and
// keeps a change feed like the controller's (a ring of feedSize events).
type fakeBackend struct {
	engine   string
	jobs     []api.Job // newest first
	details  map[int64]api.JobDetail
	logs     map[int64]string
	ctlLogs  map[int64]string
	pools    []api.Pool
	capacity api.Capacity
	// logsFunc, when set, answers Logs instead of logs.
	logsFunc  func(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error)
	cancelErr error

	mu        sync.Mutex
	cancelled []api.CancelRequest
	logCalls  []logCall

	feedMu sync.Mutex
	seq    uint64
	ring   [feedSize]api.JobEvent
	wake   chan struct{}
}

const feedSize = 16

func newFake(jobs ...api.Job) *fakeBackend {
	return &fakeBackend{
		engine: "nomad", jobs: jobs, details: map[int64]api.JobDetail{},
		logs: map[int64]string{}, ctlLogs: map[int64]string{}, wake: make(chan struct{}),
	}
}

var _ dashboard.Backend = (*fakeBackend)(nil)

func (f *fakeBackend) EngineName() string { return f.engine }

func (f *fakeBackend) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	if !req.All {
		return api.QueueResponse{}, errors.New("the dashboard must ask for All")
	}
	if len(req.JobIDs) == 0 {
		return api.QueueResponse{Jobs: slices.Clone(f.jobs)}, nil
	}
	var out []api.Job
	for _, j := range f.jobs {
		if slices.Contains(req.JobIDs, j.ID) {
			out = append(out, j)
		}
	}
	return api.QueueResponse{Jobs: out}, nil
}

func (f *fakeBackend) JobDetail(ctx context.Context, id int64) (api.JobDetail, error) {
	if d, ok := f.details[id]; ok {
		return d, nil
	}
	for _, j := range f.jobs {
		if j.ID == id {
			return api.JobDetail{Job: j}, nil
		}
	}
	return api.JobDetail{}, fmt.Errorf("no managed job %d", id)
}

func (f *fakeBackend) Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, req)
	return req.JobIDs, f.cancelErr
}

func (f *fakeBackend) Logs(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	f.logCalls = append(f.logCalls, logCall{id: id, task: task, opts: opts})
	f.mu.Unlock()
	if f.logsFunc != nil {
		return f.logsFunc(ctx, id, task, opts)
	}
	text, ok := f.logs[id]
	if !ok {
		return nil, fmt.Errorf("no log for job %d", id)
	}
	if opts.Tail > 0 {
		lines := strings.SplitAfter(text, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		text = strings.Join(lines[max(0, len(lines)-opts.Tail):], "")
	}
	return io.NopCloser(strings.NewReader(text)), nil
}

func (f *fakeBackend) ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(f.ctlLogs[id])), nil
}

func (f *fakeBackend) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	return f.pools, nil
}

func (f *fakeBackend) Capacity(ctx context.Context) (api.Capacity, error) {
	c := f.capacity
	c.Engine = f.engine
	return c, nil
}

func (f *fakeBackend) JobEvents(seq uint64) ([]api.JobEvent, bool, uint64, <-chan struct{}) {
	f.feedMu.Lock()
	defer f.feedMu.Unlock()
	if seq > f.seq {
		return nil, false, f.seq, f.wake
	}
	if f.seq-seq > feedSize {
		return nil, true, f.seq, f.wake
	}
	var evs []api.JobEvent
	for s := seq + 1; s <= f.seq; s++ {
		evs = append(evs, f.ring[s%feedSize])
	}
	return evs, false, f.seq, f.wake
}

// publish adds a change to the feed and wakes its readers.
func (f *fakeBackend) publish(ev api.JobEvent) uint64 {
	f.feedMu.Lock()
	defer f.feedMu.Unlock()
	f.seq++
	ev.Seq = f.seq
	f.ring[f.seq%feedSize] = ev
	close(f.wake)
	f.wake = make(chan struct{})
	return f.seq
}

func (f *fakeBackend) cancels() []api.CancelRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cancelled)
}

func (f *fakeBackend) logsCalls() []logCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logCalls)
}

// newDashboard serves the fake with the tests' clock.
func newDashboard(f *fakeBackend, csrf string) *dashboard.Dashboard {
	return dashboard.New(dashboard.Config{Backend: f, Clock: func() time.Time { return now }, CSRF: csrf})
}

type result struct {
	code   int
	body   string
	header http.Header
}

// get serves one GET request.
func get(t *testing.T, h http.Handler, target string) result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return result{code: rec.Code, body: rec.Body.String(), header: rec.Header()}
}

// post serves one form POST.
func post(t *testing.T, h http.Handler, target string, form url.Values) result {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	return result{code: rec.Code, body: rec.Body.String(), header: rec.Header()}
}

func tp(t time.Time) *time.Time { return &t }
func ip(i int) *int             { return &i }

// job is a one-task job submitted ago before now.
func job(id int64, name, user string, status api.Status, ago time.Duration) api.Job {
	sub := now.Add(-ago)
	j := api.Job{
		ID: id, Name: name, User: user, Status: status, SubmittedAt: sub,
		TotalDuration: api.Duration(ago),
		Tasks:         []api.Task{{Index: 0, Name: name, Status: status, Requested: "1x [m6i.large]", SubmittedAt: &sub}},
	}
	if status != api.StatusPending {
		j.StartedAt = tp(sub.Add(time.Minute))
		j.JobDuration = api.Duration(ago - time.Minute)
	}
	if status.Terminal() {
		j.EndedAt = tp(now)
	}
	return j
}

// manyJobs builds n jobs, newest first, submitted over the last two days,
// with the spread of statuses, users, pools and tasks of a busy controller.
func manyJobs(n int) []api.Job {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	pools := []string{"", "", "", "batch", "gpu-a100"}
	statuses := []api.Status{
		api.StatusSucceeded, api.StatusSucceeded, api.StatusSucceeded, api.StatusSucceeded, api.StatusRunning,
		api.StatusRunning, api.StatusFailed, api.StatusCancelled, api.StatusPending, api.StatusRecovering,
		api.StatusStarting, api.StatusFailedSetup, api.StatusFailedNoResource, api.StatusCancelling,
	}
	names := []string{"train-llama", "eval", "ETL-nightly", "serve-api", "sweep", "preprocess", "Finetune-Mistral"}
	span := 48 * time.Hour
	out := make([]api.Job, n)
	for i := range n {
		id := int64(n - i)
		ago := time.Duration(i) * span / time.Duration(n)
		st := statuses[(i*7+i/3)%len(statuses)]
		j := job(id, fmt.Sprintf("%s-%d", names[i%len(names)], id), users[(i*3)%len(users)], st, ago)
		j.Pool = pools[i%len(pools)]
		j.Recoveries = i % 4
		if i%5 != 0 {
			spot := 0.35 * float64(i%11+1)
			j.Cost = &api.Cost{Spent: spot, OnDemand: spot * 3, Savings: spot * 2}
		}
		if i%9 == 0 {
			j.Pipeline = true
			j.Tasks = append(j.Tasks, api.Task{Index: 1, Name: "eval", Status: api.StatusPending, Requested: "1x [V100:1]"})
		}
		if st.Failed() {
			j.FailureReason = "run exited with code 1"
			j.Tasks[0].ExitCode = ip(1)
		}
		j.Tasks[0].Infra = "aws/us-east-1"
		j.Tasks[0].Instance = "p3.2xlarge"
		j.Tasks[0].Spot = i%2 == 0
		out[i] = j
	}
	return out
}
