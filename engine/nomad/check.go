package nomad

import (
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/engine/nomad/render"
	"github.com/skynomad/skynomad/task"
)

var _ engine.Checker = (*Engine)(nil)

// Check refuses, at submission, a task whose fields Nomad cannot honour as
// the engine renders jobs (render.Check): an ephemeral volume, a volume's
// sub_path, volumes under a task driver that mounts none.
func (e *Engine) Check(t task.Task) error {
	return render.Check(t, e.cfg.Render)
}
