package taskdriver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/helper/uuid"
	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver"
)

// A job submitted to a pool runs beside its pool's worker (config
// worker_alloc): in the worker's workdir, with the worker's alloc-local
// HOME, so what the pool's setup left there is there.

// rendered is a workdir as engine/nomad/render writes it; the harness
// interpolates it as Nomad would.
const rendered = "${NOMAD_ALLOC_DIR}/sky_workdir"

// startWorker starts a pool worker in an alloc of its own: setup, then it
// holds the node until the test ends. It returns once setup is done.
func startWorker(t *testing.T, h *pluginHarness, setup string) *drivers.TaskConfig {
	t.Helper()
	w := newTestTask(t, h, "run", TaskConfig{Workdir: rendered}, setup+"\ntouch setup-done", "exec sleep infinity")
	done := filepath.Join(w.TaskDir().SharedAllocDir, "sky_workdir", "setup-done")
	if _, _, err := h.StartTask(w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.StopTask(w.ID, time.Second, "SIGKILL")
		_ = h.DestroyTask(w.ID, true)
	})
	waitFor(t, "the worker's setup", func() bool {
		_, err := os.Stat(done)
		return err == nil
	})
	return w
}

func TestPoolJobRunsInItsWorkersWorkdir(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))
	w := startWorker(t, h, "echo installed by setup > installed.txt")
	job := newTestTaskBeside(t, h, w, "run", TaskConfig{Phase: "run", Workdir: rendered, WorkerAlloc: w.AllocID}, "",
		`echo "in $(pwd)"; cat installed.txt`)
	if _, _, err := h.StartTask(job); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, job.ID); r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("exit %+v\n%s", r, logs(t, job))
	}
	waitFor(t, "the job's output", func() bool { return strings.Contains(logs(t, job), "installed by setup") })
	want := "in " + filepath.Join(w.TaskDir().SharedAllocDir, "sky_workdir")
	if out := logs(t, job); !strings.Contains(out, want) {
		t.Errorf("log:\n%s\nwant the job %s", out, want)
	}
	if _, err := os.Stat(filepath.Join(job.TaskDir().SharedAllocDir, "sky_workdir")); !os.IsNotExist(err) {
		t.Errorf("the job made a workdir of its own (%v); it runs in its worker's", err)
	}
}

// TestPoolJobGetsItsWorkersHome: tasks run as nobody, whose home is not
// theirs, get an alloc-local HOME; a pool's job gets its worker's.
func TestPoolJobGetsItsWorkersHome(t *testing.T) {
	d := newNobodyDriver(t)
	h := harness(t, d, PluginConfig{Metadata: MetadataNone, Docker: "docker"}) // default: nobody
	w := startWorker(t, h, `mkdir -p "$HOME/.cache" && echo from-setup > "$HOME/.cache/model"`)
	job := newTestTaskBeside(t, h, w, "run", TaskConfig{Phase: "run", Workdir: rendered, WorkerAlloc: w.AllocID}, "",
		`echo "home $HOME"; cat "$HOME/.cache/model"; touch "$HOME/job-was-here" && echo home-writable`)
	if _, _, err := h.StartTask(job); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, job.ID); r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("exit %+v\n%s", r, logs(t, job))
	}
	waitFor(t, "the job's output", func() bool { return strings.Contains(logs(t, job), "home-writable") })
	out := logs(t, job)
	home := filepath.Join(w.TaskDir().SharedAllocDir, "home")
	for _, want := range []string{"home " + home, "from-setup"} {
		if !strings.Contains(out, want) {
			t.Errorf("log:\n%s\nwant %q", out, want)
		}
	}
}

// TestPoolJobWithoutItsWorker: a job whose worker is not on the node, or
// no longer runs there, is not started, and the error says so in the words
// the Nomad engine reads (driver.WorkerGone).
func TestPoolJobWithoutItsWorker(t *testing.T) {
	d := newDriver(t)
	h := harness(t, d, me(t))

	elsewhere := newTestTask(t, h, "run", TaskConfig{Phase: "run", Workdir: rendered, WorkerAlloc: uuid.Generate()}, "", "true")
	_, _, err := h.StartTask(elsewhere)
	if err == nil || !strings.Contains(err.Error(), driver.WorkerGone) || !strings.Contains(err.Error(), "has no directory") {
		t.Errorf("StartTask beside an alloc not on the node = %v, want %q", err, driver.WorkerGone)
	}

	ended := newTestTask(t, h, "run", TaskConfig{Phase: "run"}, "", "true")
	if _, _, err := h.StartTask(ended); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, ended.ID); r.ExitCode != 0 {
		t.Fatalf("the worker stand-in exited %+v", r)
	}
	job := newTestTaskBeside(t, h, ended, "run", TaskConfig{Phase: "run", Workdir: rendered, WorkerAlloc: ended.AllocID}, "", "true")
	_, _, err = h.StartTask(job)
	if err == nil || !strings.Contains(err.Error(), driver.WorkerGone) || !strings.Contains(err.Error(), "runs no task") {
		t.Errorf("StartTask beside an ended worker = %v, want %q", err, driver.WorkerGone)
	}
}
