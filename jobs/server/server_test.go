package server

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// fakeBackend answers from fixed data and records what it was asked.
type fakeBackend struct {
	jobs     map[int64]api.Job
	logs     string
	logErr   error
	lastLogs struct {
		id   int64
		task *int
		opts engine.LogOptions
	}
	lastQueue api.QueueRequest
}

func (b *fakeBackend) EngineName() string { return "fake" }
func (b *fakeBackend) Version() string    { return "v0.test" }
func (b *fakeBackend) LoopLatency(context.Context) (time.Duration, error) {
	return 3 * time.Millisecond, nil
}
func (b *fakeBackend) ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error) {
	if req.Name == "" {
		return api.PoolApplyResponse{}, jobs.Invalid("a pool needs a name (-p NAME)")
	}
	return api.PoolApplyResponse{Pool: api.Pool{Name: req.Name, Workers: 2, Version: 1}, Created: true}, nil
}
func (b *fakeBackend) StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error) {
	return api.StagedFiles{}, jobs.Unsupported("no files here")
}

func (b *fakeBackend) JobDetail(ctx context.Context, id int64) (api.JobDetail, error) {
	j, err := b.Job(ctx, id)
	return api.JobDetail{Job: j}, err
}
func (b *fakeBackend) Capacity(ctx context.Context) (api.Capacity, error) {
	return api.Capacity{Engine: "fake"}, nil
}

func (b *fakeBackend) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	var out []api.Pool
	for _, n := range names {
		if n != "p" {
			return nil, jobs.NotFound("no pool named %s", n)
		}
		out = append(out, api.Pool{Name: n})
	}
	return out, nil
}
func (b *fakeBackend) DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error) {
	return api.PoolDownResponse{Pools: req.Names, Cancelled: []int64{4}}, nil
}
func (b *fakeBackend) Demand(context.Context) (api.Demand, error) {
	return api.Demand{Nodes: map[string]int{"sky-aws-us-east-1-m6i.large-spot": 3}}, nil
}
func (b *fakeBackend) Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error) {
	if len(dag.Tasks) == 0 {
		return api.PlanResponse{}, jobs.Invalid("the job has no task")
	}
	return api.PlanResponse{Engine: "fake", Tasks: []api.TaskPlan{{Task: dag.Tasks[0].Name, Error: "nothing fits"}}}, nil
}
func (b *fakeBackend) Submit(ctx context.Context, req api.LaunchRequest) ([]int64, error) {
	if req.Pool != "" {
		return nil, jobs.Unsupported("no pools")
	}
	return []int64{7, 8}, nil
}
func (b *fakeBackend) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	b.lastQueue = req
	res := api.QueueResponse{InProgress: map[api.Status]int{api.StatusRunning: 3, api.StatusPending: 1}}
	for _, j := range b.jobs {
		res.Jobs = append(res.Jobs, j)
	}
	return res, nil
}
func (b *fakeBackend) Job(ctx context.Context, id int64) (api.Job, error) {
	j, ok := b.jobs[id]
	if !ok {
		return api.Job{}, jobs.NotFound("no managed job with id %d", id)
	}
	return j, nil
}
func (b *fakeBackend) Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error) {
	if len(req.JobIDs) == 0 {
		return nil, jobs.Invalid("give exactly one selector")
	}
	return nil, nil
}
func (b *fakeBackend) Logs(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
	if _, ok := b.jobs[id]; !ok {
		return nil, jobs.NotFound("no managed job with id %d", id)
	}
	b.lastLogs.id, b.lastLogs.task, b.lastLogs.opts = id, task, opts
	return io.NopCloser(io.MultiReader(strings.NewReader(b.logs), errReader{b.logErr})), nil
}
func (b *fakeBackend) ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("controller says hi\n")), nil
}
func (b *fakeBackend) Preempt(ctx context.Context, id int64, req api.PreemptRequest) error {
	if req.Task != 0 {
		return jobs.Conflict("not running")
	}
	return nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestServer(t *testing.T, token string) (*httptest.Server, *fakeBackend) {
	t.Helper()
	b := &fakeBackend{
		jobs: map[int64]api.Job{1: {ID: 1, Name: "one", Status: api.StatusRunning, SubmittedAt: t0, StartedAt: &t0,
			TotalDuration: api.Duration(90 * time.Second), JobDuration: api.Duration(time.Minute),
			Tasks: []api.Task{{Name: "one", Status: api.StatusRunning, TotalDuration: api.Duration(90 * time.Second),
				JobDuration: api.Duration(time.Minute)}}}},
		logs: "line 1\nline 2\n",
	}
	ts := httptest.NewServer(New(Config{Backend: b, Token: token}))
	t.Cleanup(ts.Close)
	return ts, b
}

func call(t *testing.T, ts *httptest.Server, method, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	ts, _ := newTestServer(t, "")
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string // JSON body, compared after re-encoding
	}{
		{"health", "GET", "/v1/health", "", 200, `{"engine":"fake","version":"v0.test","loop_latency":0.003}`},
		{"demand", "GET", "/v1/demand", "", 200, `{"nodes":{"sky-aws-us-east-1-m6i.large-spot":3}}`},
		{"plan", "POST", "/v1/plan", `{"dag":{"name":"x","tasks":[{"name":"t","num_nodes":1,"resources":{"job_recovery":{"strategy":""}},"candidates":[]}]}}`,
			200, `{"engine":"fake","tasks":[{"task":"t","error":"nothing fits"}]}`},
		{"plan of nothing", "POST", "/v1/plan", `{"dag":{}}`, 400, `{"error":"the job has no task"}`},
		{"launch", "POST", "/v1/jobs", `{"dag":{"name":"x"},"user":"u"}`, 200, `{"job_ids":[7,8]}`},
		{"launch to a pool", "POST", "/v1/jobs", `{"dag":{"name":"x"},"pool":"p"}`, 501, `{"error":"no pools"}`},
		{"bad json", "POST", "/v1/jobs", `{"dag":`, 400, `{"error":"bad request body: unexpected EOF"}`},
		{"job", "GET", "/v1/jobs/1", "", 200, `{"id":1,"name":"one","user":"","status":"RUNNING","priority":0,
			"submitted_at":"2025-01-02T03:04:05Z","started_at":"2025-01-02T03:04:05Z","total_duration":90,"job_duration":60,
			"recoveries":0,"tasks":[{"index":0,"name":"one","status":"RUNNING","requested":"","total_duration":90,
			"job_duration":60,"recoveries":0,"restarts":0,"attempt":0,"job_rank":0,"num_jobs":0}]}`},
		{"unknown job", "GET", "/v1/jobs/2", "", 404, `{"error":"no managed job with id 2"}`},
		{"bad id", "GET", "/v1/jobs/abc", "", 400, `{"error":"job id must be a positive number, got \"abc\""}`},
		{"cancel without selector", "POST", "/v1/jobs/cancel", `{}`, 400, `{"error":"give exactly one selector"}`},
		{"cancel", "POST", "/v1/jobs/cancel", `{"job_ids":[1]}`, 200, `{"cancelled":[]}`},
		{"queue", "POST", "/v1/jobs/queue", `{"all":true}`, 200, `{"jobs":[{"id":1,"name":"one","user":"","status":"RUNNING",
			"priority":0,"submitted_at":"2025-01-02T03:04:05Z","started_at":"2025-01-02T03:04:05Z","total_duration":90,
			"job_duration":60,"recoveries":0,"tasks":[{"index":0,"name":"one","status":"RUNNING","requested":"",
			"total_duration":90,"job_duration":60,"recoveries":0,"restarts":0,"attempt":0,"job_rank":0,"num_jobs":0}]}],
			"in_progress":{"PENDING":1,"RUNNING":3}}`},
		{"preempt conflict", "POST", "/v1/jobs/1/preempt", `{"task":1}`, 409, `{"error":"not running"}`},
		{"logs of unknown job", "GET", "/v1/jobs/5/logs", "", 404, `{"error":"no managed job with id 5"}`},
		{"bad tail", "GET", "/v1/jobs/1/logs?tail=x", "", 400, `{"error":"tail must be a line count, got \"x\""}`},
		{"bad follow", "GET", "/v1/jobs/1/logs?follow=maybe", "", 400, `{"error":"want true or false, got \"maybe\""}`},
		{"wrong method", "DELETE", "/v1/jobs/1", "", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, ts, tc.method, tc.path, tc.body, nil)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.code, body)
			}
			if tc.want == "" {
				return
			}
			if diff := cmp.Diff(canonical(t, tc.want), canonical(t, body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	resp, _ := call(t, ts, "POST", "/v1/jobs/1/preempt", `{"task":0}`, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preempt: %d, want 204", resp.StatusCode)
	}
}

func canonical(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestGobOnRequest(t *testing.T) {
	t.Parallel()
	ts, b := newTestServer(t, "")
	resp, body := call(t, ts, "POST", "/v1/jobs/queue", `{"user":"bob","limit":3}`, map[string]string{"Accept": ContentGob})
	if ct := resp.Header.Get("Content-Type"); ct != ContentGob {
		t.Fatalf("content type %q", ct)
	}
	var got api.QueueResponseGob
	if err := gob.NewDecoder(bytes.NewReader([]byte(body))).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]api.Job{b.jobs[1]}, got.Jobs); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[api.Status]int{api.StatusRunning: 3, api.StatusPending: 1}, got.InProgress); diff != "" {
		t.Errorf("in progress (-want +got):\n%s", diff)
	}
	// Other answers stay JSON whatever the client accepts.
	resp, _ = call(t, ts, "GET", "/v1/jobs/1", "", map[string]string{"Accept": ContentGob})
	if ct := resp.Header.Get("Content-Type"); ct != ContentJSON {
		t.Errorf("job answer in %q", ct)
	}
	if diff := cmp.Diff(api.QueueRequest{User: "bob", Limit: 3}, b.lastQueue); diff != "" {
		t.Errorf("request seen (-want +got):\n%s", diff)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	ts, _ := newTestServer(t, "s3cret")
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret", 401}, {"Bearer s3cret", 200}} {
		resp, body := call(t, ts, "GET", "/v1/jobs/1", "", map[string]string{"Authorization": tc.auth})
		if resp.StatusCode != tc.code {
			t.Errorf("Authorization %q: %d, want %d (%s)", tc.auth, resp.StatusCode, tc.code, body)
		}
	}
	if resp, _ := call(t, ts, "GET", "/v1/health", "", nil); resp.StatusCode != 200 {
		t.Errorf("health needs no token, got %d", resp.StatusCode)
	}
}

func TestLogStream(t *testing.T) {
	t.Parallel()
	ts, b := newTestServer(t, "")
	resp, body := call(t, ts, "GET", "/v1/jobs/1/logs?task=0&follow=true&tail=5", "", nil)
	if resp.StatusCode != 200 || body != "line 1\nline 2\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if b.lastLogs.id != 1 || b.lastLogs.task == nil || *b.lastLogs.task != 0 || !b.lastLogs.opts.Follow || b.lastLogs.opts.Tail != 5 {
		t.Errorf("backend asked for %+v", b.lastLogs)
	}
	if got := resp.Trailer.Get(ErrorTrailer); got != "" {
		t.Errorf("trailer %q on a clean stream", got)
	}

	b.logErr = errors.New("engine went away\nstack")
	resp, body = call(t, ts, "GET", "/v1/jobs/1/logs", "", nil)
	if body != "line 1\nline 2\n" || resp.Trailer.Get(ErrorTrailer) != "engine went away" {
		t.Errorf("body %q trailer %q", body, resp.Trailer.Get(ErrorTrailer))
	}
	if b.lastLogs.task != nil {
		t.Errorf("no task given, backend got %d", *b.lastLogs.task)
	}
	_, body = call(t, ts, "GET", "/v1/jobs/1/controller-log?follow=1", "", nil)
	if body != "controller says hi\n" {
		t.Errorf("controller log %q", body)
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "controller.lock")
	release, err := AcquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	release()
	release2, err := AcquireLock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}

func TestListenUnix(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.sock")
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "already answers") {
		t.Errorf("second listen: %v", err)
	}
	// A crashed controller leaves its socket file behind.
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	l2, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	l2.Close()
}

func TestServeStops(t *testing.T) {
	t.Parallel()
	l, err := ListenUnix(filepath.Join(t.TempDir(), "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(Config{Backend: &fakeBackend{}}).Serve(ctx, l) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
