package nomad

import (
	"strings"
	"testing"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/task"
)

// TestCheckRefusesVolumesNomadCannotMount: a job whose volumes Nomad cannot
// give ends at submission (FAILED_PRECHECKS), with the reason.
func TestCheckRefusesVolumesNomadCannotMount(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Sink: func(engine.Event) {}, Render: render.Options{TaskDriver: "raw_exec"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	named := task.Task{Name: "t", Run: "true", Volumes: []task.Volume{{Path: "/data", Name: "datasets"}}}
	if err := e.Check(named); !engine.IsInfeasible(err) || !strings.Contains(err.Error(), "raw_exec task driver mounts no volumes") {
		t.Errorf("a volume under raw_exec: %v", err)
	}
	named.Resources.ImageID = "docker:ubuntu"
	if err := e.Check(named); err != nil {
		t.Errorf("a volume in an image under raw_exec (Nomad's docker driver mounts it): %v", err)
	}
	if err := e.Check(task.Task{Name: "t", Run: "true"}); err != nil {
		t.Errorf("a plain task: %v", err)
	}
}
