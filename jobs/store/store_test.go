package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)

func newJob(name, user string, status api.Status) (Job, []Task) {
	j := Job{Name: name, User: user, Status: status, NumJobs: 1, SubmittedAt: t0,
		DAG: task.DAG{Name: name, Tasks: []task.Task{{Name: name, NumNodes: 1, Run: "echo hi"}}}}
	ts := []Task{{Index: 0, Name: name, Status: status, Requested: "1x [CPU:1]", SubmittedAt: t0}}
	return j, ts
}

func createOne(t *testing.T, s *Store, name, user string, status api.Status) int64 {
	t.Helper()
	j, ts := newJob(name, user, status)
	ids, err := s.CreateJobs(context.Background(), []Job{j}, [][]Task{ts})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	id := createOne(t, s, "train", "alice", api.StatusPending)

	choice := catalog.Choice{Spot: true, HourlyCost: 1.5, Offering: catalog.Offering{
		Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.2xlarge", VCPUs: 8, MemoryGB: 32}}
	code := 7
	rec, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	j := rec.Job
	j.Status = api.StatusRunning
	j.StartedAt = t0.Add(time.Minute)
	tk := rec.Tasks[0]
	tk.Status = api.StatusRunning
	tk.Attempt = 1
	tk.ExitCode = &code
	tk.Choice = &choice
	tk.Blocked = []task.Infra{{Cloud: "aws", Region: "us-west-2"}}
	tk.RunningSince = t0.Add(time.Minute)
	tk.RunTime = 3 * time.Second
	att := Attempt{JobID: id, Task: 0, Number: 1, Choice: choice, State: AttemptLaunched,
		CreatedAt: t0, LaunchedAt: t0.Add(time.Second), Node: "n1", ExitCode: &code}
	if err := s.Save(ctx, Change{Job: &j, Tasks: []Task{tk}, Attempts: []Attempt{att}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Job: j, Tasks: []Task{tk}, Attempts: []Attempt{att}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	if _, err := s.Get(ctx, id+100); !IsNotFound(err) {
		t.Errorf("Get(unknown) = %v, want not found", err)
	}
	missing := Job{ID: id + 100, Status: api.StatusRunning}
	if err := s.Save(ctx, Change{Job: &missing}); !IsNotFound(err) {
		t.Errorf("Save(unknown job) = %v, want not found", err)
	}
}

func TestSaveIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	id := createOne(t, s, "a", "u", api.StatusPending)
	rec, _ := s.Get(ctx, id)
	j := rec.Job
	j.Status = api.StatusStarting
	// The attempt refers to a task that does not exist: the foreign key
	// fails, and the job's status change must not land either.
	bad := Attempt{JobID: id, Task: 5, Number: 1, State: AttemptLaunching, CreatedAt: t0}
	if err := s.Save(ctx, Change{Job: &j, Attempts: []Attempt{bad}}); err == nil {
		t.Fatal("Save with a dangling attempt succeeded")
	}
	got, _ := s.Get(ctx, id)
	if got.Job.Status != api.StatusPending {
		t.Errorf("status after failed save = %s, want PENDING", got.Job.Status)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	var ids []int64
	for i, st := range []api.Status{api.StatusSucceeded, api.StatusRunning, api.StatusFailed,
		api.StatusPending, api.StatusCancelled, api.StatusSucceeded} {
		user := "alice"
		if i%2 == 1 {
			user = "bob"
		}
		ids = append(ids, createOne(t, s, fmt.Sprintf("job%d", i), user, st))
	}
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"active", Filter{Active: true}, []int64{ids[3], ids[1]}},
		{"user", Filter{User: "bob"}, []int64{ids[5], ids[3], ids[1]}},
		{"name", Filter{Name: "job2"}, []int64{ids[2]}},
		{"ids", Filter{IDs: []int64{ids[0], ids[4]}}, []int64{ids[4], ids[0]}},
		{"limit", Filter{Limit: 2}, []int64{ids[5], ids[4]}},
		{"recent finished", Filter{RecentFinished: 2}, []int64{ids[5], ids[4], ids[3], ids[1]}},
		{"recent finished of a user", Filter{User: "alice", RecentFinished: 1}, []int64{ids[4]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs, tasks, err := s.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, j := range jobs {
				got = append(got, j.ID)
				if len(tasks[j.ID]) != 1 || tasks[j.ID][0].Name != j.Name {
					t.Errorf("job %d tasks = %+v", j.ID, tasks[j.ID])
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadActive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	createOne(t, s, "done", "u", api.StatusSucceeded)
	run := createOne(t, s, "run", "u", api.StatusRunning)
	canc := createOne(t, s, "cancelling", "u", api.StatusCancelling)
	recs, err := s.LoadActive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range recs {
		got = append(got, r.Job.ID)
		if r.Job.DAG.Name != r.Job.Name {
			t.Errorf("job %d: DAG not loaded: %+v", r.Job.ID, r.Job.DAG)
		}
	}
	if diff := cmp.Diff([]int64{run, canc}, got); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
}

func TestKV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "state.db"))
	if _, ok, err := s.GetKV(ctx, "nomad/index"); ok || err != nil {
		t.Fatalf("GetKV(missing) = %v, %v", ok, err)
	}
	for _, v := range []string{"41", "42"} {
		if err := s.PutKV(ctx, "nomad/index", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	v, ok, err := s.GetKV(ctx, "nomad/index")
	if err != nil || !ok || string(v) != "42" {
		t.Errorf("GetKV = %q, %v, %v; want 42", v, ok, err)
	}
}

func TestReopenKeepsSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	id := createOne(t, s, "a", "u", api.StatusPending)
	s.Close()
	s2 := openTest(t, path)
	if _, err := s2.Get(context.Background(), id); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

// TestSurvivesKill writes jobs in a child process that SIGKILLs itself
// without closing the database (so no checkpoint runs), then reopens it.
func TestSurvivesKill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	const n = 50
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), "STORE_CRASH_DB="+path, "STORE_CRASH_N="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die by SIGKILL: %v\n%s", err, out)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL left behind by the killed writer: %v", err)
	}
	s := openTest(t, path)
	jobs, _, err := s.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n {
		t.Fatalf("after kill -9: %d jobs, want %d", len(jobs), n)
	}
	for _, j := range jobs {
		if j.Status != api.StatusRunning {
			t.Errorf("job %d status %s, want RUNNING (the committed update)", j.ID, j.Status)
		}
	}
}

func TestCrashHelper(t *testing.T) {
	path := os.Getenv("STORE_CRASH_DB")
	if path == "" {
		t.Skip("helper process for TestSurvivesKill")
	}
	n, _ := strconv.Atoi(os.Getenv("STORE_CRASH_N"))
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		j, ts := newJob(fmt.Sprintf("j%d", i), "u", api.StatusPending)
		ids, err := s.CreateJobs(ctx, []Job{j}, [][]Task{ts})
		if err != nil {
			t.Fatal(err)
		}
		j.ID = ids[0]
		j.Status = api.StatusRunning
		if err := s.Save(ctx, Change{Job: &j}); err != nil {
			t.Fatal(err)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
