package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/bucket/stage"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/server"
	"github.com/skynomad/skynomad/task"
)

type backend struct {
	mu   sync.Mutex
	seen []string
	// staging receives the files StageFiles is sent (unset: refused).
	staging string
}

func (b *backend) StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error) {
	if b.staging == "" {
		return api.StagedFiles{}, jobs.Unsupported("no files here")
	}
	p, err := stage.Unpack(archive, b.staging)
	return api.StagedFiles{Path: p}, err
}

func (b *backend) note(s string) {
	b.mu.Lock()
	b.seen = append(b.seen, s)
	b.mu.Unlock()
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (b *backend) EngineName() string { return "fake" }
func (b *backend) Version() string    { return "v1" }
func (b *backend) LoopLatency(context.Context) (time.Duration, error) {
	return 3 * time.Millisecond, nil
}
func (b *backend) ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error) {
	b.note("apply " + req.Name)
	return api.PoolApplyResponse{Pool: api.Pool{Name: req.Name}, Created: true}, nil
}
func (b *backend) JobDetail(ctx context.Context, id int64) (api.JobDetail, error) {
	return api.JobDetail{}, jobs.NotFound("no job %d", id)
}
func (b *backend) Capacity(ctx context.Context) (api.Capacity, error) { return api.Capacity{}, nil }

func (b *backend) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	b.note("pools " + strings.Join(names, ","))
	out := []api.Pool{}
	for _, n := range names {
		out = append(out, api.Pool{Name: n})
	}
	return out, nil
}
func (b *backend) DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error) {
	b.note("down " + strings.Join(req.Names, ","))
	return api.PoolDownResponse{Pools: req.Names}, nil
}
func (b *backend) Demand(context.Context) (api.Demand, error) {
	return api.Demand{Nodes: map[string]int{"sky-gcp-us-central1-n2-standard-8-spot": 2}}, nil
}
func (b *backend) Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error) {
	return api.PlanResponse{Engine: "fake", Tasks: []api.TaskPlan{{Task: dag.Name}}}, nil
}
func (b *backend) Submit(ctx context.Context, req api.LaunchRequest) ([]int64, error) {
	b.note("submit " + req.DAG.Name)
	return []int64{3}, nil
}
func (b *backend) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	code, zero := 3, 0
	return api.QueueResponse{InProgress: map[api.Status]int{api.StatusRunning: 1}, Jobs: []api.Job{
		{ID: 4, Name: "pipe", Status: api.StatusRunning, SubmittedAt: t0, Pipeline: true, Tasks: []api.Task{
			{Name: "a", Status: api.StatusSucceeded, ExitCode: &zero, EndedAt: &t0},
			{Index: 1, Name: "b", Status: api.StatusRunning, StartedAt: &t0}}},
		{ID: 3, Name: "q", Status: api.StatusFailed, SubmittedAt: t0, EndedAt: &t0,
			TotalDuration: api.Duration(1500 * time.Millisecond),
			Tasks:         []api.Task{{Name: "q", Status: api.StatusFailed, ExitCode: &code, JobDuration: api.Duration(time.Second)}}},
	}}, nil
}
func (b *backend) Job(ctx context.Context, id int64) (api.Job, error) {
	if id != 3 {
		return api.Job{}, jobs.NotFound("no managed job with id %d", id)
	}
	return api.Job{ID: 3, SubmittedAt: t0}, nil
}
func (b *backend) Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error) {
	return req.JobIDs, nil
}
func (b *backend) Logs(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error) {
	t := -1
	if task != nil {
		t = *task
	}
	return io.NopCloser(strings.NewReader(strings.Repeat("x", 3) + "\n" + itoa(t) + " " + boolS(opts.Follow) + " " + itoa(opts.Tail) + "\n")), nil
}
func (b *backend) ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("ctl " + boolS(follow) + "\n")), nil
}
func (b *backend) Preempt(ctx context.Context, id int64, req api.PreemptRequest) error {
	b.note("preempt")
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolS(b bool) string {
	if b {
		return "follow"
	}
	return "once"
}

// serveUnix serves the API on a socket under dir.
func serveUnix(t *testing.T, dir string, b server.Backend) {
	t.Helper()
	l, err := server.ListenUnix(SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		server.New(server.Config{Backend: b}).Serve(ctx, l)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestClientOverUnixAndTCP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &backend{}
	serveUnix(t, dir, b)
	ts := httptest.NewServer(server.New(server.Config{Backend: b, Token: "tok"}))
	t.Cleanup(ts.Close)

	for _, tc := range []struct{ addr, token string }{{"unix://" + SocketPath(dir), ""}, {ts.URL, "tok"}} {
		t.Run(tc.addr[:4], func(t *testing.T) {
			c, err := New(tc.addr, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			h, err := c.Health(ctx)
			if err != nil || h != (api.Health{Engine: "fake", Version: "v1", LoopLatency: api.Duration(3 * time.Millisecond)}) {
				t.Errorf("Health = %+v, %v", h, err)
			}
			if d, err := c.Demand(ctx); err != nil || d.Nodes["sky-gcp-us-central1-n2-standard-8-spot"] != 2 {
				t.Errorf("Demand = %+v, %v", d, err)
			}
			lr, err := c.Launch(ctx, api.LaunchRequest{DAG: task.DAG{Name: "hello"}})
			if err != nil || len(lr.JobIDs) != 1 || lr.JobIDs[0] != 3 {
				t.Errorf("Launch = %+v, %v", lr, err)
			}
			q, err := c.Queue(ctx, api.QueueRequest{All: true})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := b.Queue(ctx, api.QueueRequest{})
			if diff := cmp.Diff(want, q); diff != "" {
				t.Errorf("Queue (-want +got):\n%s", diff)
			}
			if _, err := c.Job(ctx, 4); !IsNotFound(err) || err.Error() != "no managed job with id 4" {
				t.Errorf("Job(4) = %v, want not found", err)
			}
			cr, err := c.Cancel(ctx, api.CancelRequest{JobIDs: []int64{3}})
			if err != nil || len(cr.Cancelled) != 1 {
				t.Errorf("Cancel = %+v, %v", cr, err)
			}
			if err := c.Preempt(ctx, 3, api.PreemptRequest{}); err != nil {
				t.Errorf("Preempt: %v", err)
			}
			p, err := c.Plan(ctx, task.DAG{Name: "p"})
			if err != nil || p.Tasks[0].Task != "p" {
				t.Errorf("Plan = %+v, %v", p, err)
			}
			zero := 0
			if got := readAll(t, func() (io.ReadCloser, error) { return c.Logs(ctx, 3, &zero, true, 7) }); got != "xxx\n0 follow 7\n" {
				t.Errorf("Logs = %q", got)
			}
			if got := readAll(t, func() (io.ReadCloser, error) { return c.Logs(ctx, 3, nil, false, 0) }); got != "xxx\n-1 once 0\n" {
				t.Errorf("Logs = %q", got)
			}
			if got := readAll(t, func() (io.ReadCloser, error) { return c.ControllerLog(ctx, 3, true) }); got != "ctl follow\n" {
				t.Errorf("ControllerLog = %q", got)
			}
		})
	}
	c, _ := New(ts.URL, "")
	if _, err := c.Job(context.Background(), 3); StatusCode(err) != http.StatusUnauthorized {
		t.Errorf("without the token: %v", err)
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"", "unix://", "ftp://x", "http://", "localhost:8080"} {
		if _, err := New(addr, ""); err == nil {
			t.Errorf("New(%q) accepted", addr)
		}
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, _ := New("unix://"+filepath.Join(dir, "none.sock"), "")
	if _, err := c.Health(context.Background()); !IsUnreachable(err) {
		t.Errorf("no socket: %v, want unreachable", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ = New("http://"+addr, "")
	_, err = c.Queue(context.Background(), api.QueueRequest{})
	if !IsUnreachable(err) || !strings.Contains(err.Error(), "controller not reachable at http://"+addr) {
		t.Errorf("closed port: %v, want unreachable", err)
	}
}

func TestEnsureLocal(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	var starts atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	t.Cleanup(func() { cancel(); <-served })
	start := func() error {
		starts.Add(1)
		// Like a detached process: returns before the controller listens.
		go func() {
			defer close(served)
			l, err := server.ListenUnix(SocketPath(home))
			if err != nil {
				t.Error(err)
				return
			}
			server.New(server.Config{Backend: &backend{}}).Serve(ctx, l)
		}()
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := EnsureLocal(context.Background(), home, start)
			if err == nil {
				_, err = c.Health(context.Background())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("started %d controllers, want 1", n)
	}
	// Already running: no start.
	if _, err := EnsureLocal(context.Background(), home, func() error {
		t.Error("start called while the controller answers")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureLocalGivesUp(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := EnsureLocal(ctx, home, func() error { return nil })
	if !IsUnreachable(err) || !strings.Contains(err.Error(), filepath.Join(home, "controller.log")) {
		t.Errorf("a controller that never answers: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, startLockFile)); err != nil {
		t.Errorf("lock file: %v", err)
	}
}

// TestPoolCalls: the pool requests reach the controller with their names.
func TestPoolCalls(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &backend{}
	serveUnix(t, dir, b)
	c, err := New("unix://"+SocketPath(dir), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := c.ApplyPool(ctx, api.PoolApplyRequest{Name: "p"}); err != nil || !r.Created || r.Pool.Name != "p" {
		t.Errorf("apply: %+v %v", r, err)
	}
	if ps, err := c.Pools(ctx, []string{"a b", "c"}); err != nil || len(ps) != 2 || ps[0].Name != "a b" {
		t.Errorf("pools: %+v %v", ps, err)
	}
	if ps, err := c.Pools(ctx, nil); err != nil || len(ps) != 0 {
		t.Errorf("all pools: %+v %v", ps, err)
	}
	if r, err := c.DownPool(ctx, api.PoolDownRequest{Names: []string{"p"}}); err != nil || len(r.Pools) != 1 {
		t.Errorf("down: %+v %v", r, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	want := []string{"apply p", "pools a b,c", "pools ", "down p"}
	if strings.Join(b.seen, "|") != strings.Join(want, "|") {
		t.Errorf("controller saw %q, want %q", b.seen, want)
	}
}

// A job's local tree sent to a controller on another host arrives whole,
// with its file modes and without what .skyignore leaves out.
func TestStageFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &backend{staging: filepath.Join(dir, "staging")}
	serveUnix(t, dir, b)
	c, err := New("unix://"+SocketPath(dir), "")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "project")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "train.sh"), []byte("echo hi\n"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "data.csv"), []byte("a,b\n"), 0o644)
	os.WriteFile(filepath.Join(src, "big.bin"), []byte("skip me"), 0o644)
	os.WriteFile(filepath.Join(src, ".skyignore"), []byte("*.bin\n"), 0o644)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(stage.Pack(pw, src)) }()
	res, err := c.StageFiles(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Path, b.staging+string(filepath.Separator)) {
		t.Fatalf("staged at %s, want under %s", res.Path, b.staging)
	}
	if fi, err := os.Stat(filepath.Join(res.Path, "train.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("train.sh staged as %v (%v), want mode 0755", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(res.Path, "sub", "data.csv")); string(got) != "a,b\n" {
		t.Errorf("sub/data.csv staged as %q", got)
	}
	if _, err := os.Stat(filepath.Join(res.Path, "big.bin")); err == nil {
		t.Error("a file .skyignore leaves out was sent")
	}
	// A controller that takes no files says so.
	refusing := t.TempDir()
	serveUnix(t, refusing, &backend{})
	c2, _ := New("unix://"+SocketPath(refusing), "")
	pr2, pw2 := io.Pipe()
	go func() { pw2.CloseWithError(stage.Pack(pw2, src)) }()
	if _, err := c2.StageFiles(context.Background(), pr2); err == nil || !strings.Contains(err.Error(), "no files here") {
		t.Errorf("StageFiles to a controller that takes none = %v", err)
	}
}
