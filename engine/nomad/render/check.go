package render

import (
	"slices"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

// Check says why Nomad, rendered for under o, can never run t: an
// engine.InfeasibleError naming the field, or nil. The Nomad engine asks
// it at submission (engine.Checker); RenderJob asks it of the attempt's
// chosen resources.
func Check(t task.Task, o Options) error {
	return infeasible(t, o, anyInImage(t))
}

func infeasible(t task.Task, o Options, inImage bool) error {
	if why := volumesFeasible(t, o, inImage); why != "" {
		return engine.Infeasible("%s", why)
	}
	if d := t.Docker; d != nil && d.GPUs != "" && o.withDefaults().TaskDriver != driver.PluginName && !asksGPUs(t) {
		return engine.Infeasible("config.docker.run_options --gpus %s: Nomad's docker driver gives a task the GPUs it asks for "+
			"in resources.accelerators (through the nvidia device plugin), and this task asks for none", d.GPUs)
	}
	return nil
}

// asksGPUs reports whether a resource request of t asks for accelerators.
func asksGPUs(t task.Task) bool {
	return len(t.Resources.Accelerators) > 0 || slices.ContainsFunc(t.Candidates, func(r task.Resources) bool { return len(r.Accelerators) > 0 })
}
