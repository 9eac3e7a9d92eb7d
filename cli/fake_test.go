package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// fakeController answers like a controller and records what it was asked.
type fakeController struct {
	mu    sync.Mutex
	plan  api.PlanResponse
	jobs  map[int64]*api.Job
	queue []api.Job
	// inProgress is the controller's count of every job in progress,
	// whatever rows a request selects.
	inProgress map[api.Status]int
	logs       map[int64]map[int]string // job → task (allTasks too) → text
	ctlLogs    map[int64]string
	logErr     error // returned by Logs when set
	nextID     int64
	launched   []api.LaunchRequest
	queued     []api.QueueRequest
	cancels    []api.CancelRequest
	preempts   []api.PreemptRequest
	logCalls   []string
	pools      map[string]api.Pool
	applied    []api.PoolApplyRequest
	downs      []api.PoolDownRequest
}

var _ controllerAPI = (*fakeController)(nil)

func (f *fakeController) ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, req)
	if f.pools == nil {
		f.pools = map[string]api.Pool{}
	}
	p, ok := f.pools[req.Name]
	p.Name, p.Workers = req.Name, req.DAG.Tasks[0].Pool.Workers
	p.Version++
	f.pools[req.Name] = p
	return api.PoolApplyResponse{Pool: p, Created: !ok, Rolling: ok}, nil
}

func (f *fakeController) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Pool
	if len(names) == 0 {
		for _, p := range f.pools {
			out = append(out, p)
		}
		return out, nil
	}
	for _, n := range names {
		p, ok := f.pools[n]
		if !ok {
			return nil, fmt.Errorf("no pool named %s", n)
		}
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeController) DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downs = append(f.downs, req)
	for _, n := range req.Names {
		delete(f.pools, n)
	}
	return api.PoolDownResponse{Pools: req.Names}, nil
}

// Health says the fake runs on no named host: the CLI sends it no files.
func (f *fakeController) Health(ctx context.Context) (api.Health, error) {
	return api.Health{Engine: "fake"}, nil
}

func (f *fakeController) StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error) {
	return api.StagedFiles{}, errors.New("the fake controller takes no files")
}

func (f *fakeController) Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error) {
	return f.plan, nil
}

func (f *fakeController) Launch(ctx context.Context, req api.LaunchRequest) (api.LaunchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.launched = append(f.launched, req)
	var ids []int64
	for range max(req.NumJobs, 1) {
		f.nextID++
		ids = append(ids, f.nextID)
	}
	return api.LaunchResponse{JobIDs: ids}, nil
}

func (f *fakeController) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, req)
	if len(req.JobIDs) > 0 {
		var out []api.Job
		for _, id := range req.JobIDs {
			if j, ok := f.jobs[id]; ok {
				out = append(out, *j)
			}
		}
		return api.QueueResponse{Jobs: out, InProgress: f.inProgress}, nil
	}
	return api.QueueResponse{Jobs: f.queue, InProgress: f.inProgress}, nil
}

func (f *fakeController) Job(ctx context.Context, id int64) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return api.Job{}, errors.New("job not found")
	}
	return *j, nil
}

func (f *fakeController) Cancel(ctx context.Context, req api.CancelRequest) (api.CancelResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, req)
	var ids []int64
	for id, j := range f.jobs {
		if !j.Status.Terminal() {
			j.Status = api.StatusCancelled
			ids = append(ids, id)
		}
	}
	return api.CancelResponse{Cancelled: ids}, nil
}

// allTasks keys the fake's logs of every task.
const allTasks = -1

func (f *fakeController) Logs(ctx context.Context, id int64, task *int, follow bool, tail int) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, name := allTasks, "all"
	if task != nil {
		t, name = *task, fmt.Sprint(*task)
	}
	f.logCalls = append(f.logCalls, fmt.Sprintf("job=%d task=%s follow=%v tail=%d", id, name, follow, tail))
	if f.logErr != nil {
		return nil, f.logErr
	}
	return io.NopCloser(strings.NewReader(f.logs[id][t])), nil
}

func (f *fakeController) ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(f.ctlLogs[id])), nil
}

func (f *fakeController) Preempt(ctx context.Context, id int64, req api.PreemptRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preempts = append(f.preempts, req)
	return nil
}

// run runs the skynomad command tree against fake with a fixed clock and
// a plain UI, and returns stdout, stderr and the exit code.
func run(t *testing.T, fake *fakeController, stdin string, args ...string) (string, string, int) {
	t.Helper()
	home := t.TempDir()
	var out, errOut bytes.Buffer
	env := map[string]string{"SKYNOMAD_HOME": home, "USER": "ada"}
	io := IO{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return testNow },
		dial: func(ctx context.Context) (controllerAPI, error) {
			if fake == nil {
				t.Errorf("the command contacted the controller")
				return nil, errors.New("no controller in this test")
			}
			return fake, nil
		},
	}
	code := Main(context.Background(), io, args)
	return out.String(), errOut.String(), code
}

// testNow is the fixed clock of these tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
