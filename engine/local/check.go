package local

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/task"
)

var _ engine.Checker = (*Engine)(nil)

// Check says whether this host can run the task at all; it returns an
// engine.Infeasible error (FAILED_PRECHECKS) naming what cannot be met. A
// task fits if one of its candidate resource requests fits. Every node of
// the task runs on this host, so each node's request is compared with the
// whole host.
func (e *Engine) Check(t task.Task) error {
	for _, m := range t.Mounts {
		if m.LocalSource() && !m.Bucket() && !filepath.IsAbs(m.Source) {
			return engine.Infeasible("file_mounts %s: source %q is not an absolute path (the client resolves local paths before submitting)",
				m.Dest, m.Source)
		}
	}
	for _, v := range t.Volumes {
		if p := volumeProblem(v); p != "" {
			return engine.Infeasible("%s", p)
		}
	}
	if w := t.Workdir; w != nil && w.Path != "" && !filepath.IsAbs(w.Path) {
		return engine.Infeasible("workdir %q is not an absolute path (the client resolves local paths before submitting)", w.Path)
	}
	cands := t.Candidates
	if len(cands) == 0 {
		cands = []task.Resources{t.Resources}
	}
	var reasons []string
	for _, r := range cands {
		reason := e.misfit(r)
		if reason == "" {
			return nil
		}
		if !slices.Contains(reasons, reason) {
			reasons = append(reasons, reason)
		}
	}
	if len(reasons) == 1 {
		return engine.Infeasible("%s", reasons[0])
	}
	return engine.Infeasible("no resource request of the task fits this host: %s", strings.Join(reasons, "; "))
}

// misfit returns why r cannot run on this host, or "".
func (e *Engine) misfit(r task.Resources) string {
	if img := r.DockerImage(); img != "" {
		return fmt.Sprintf("the local engine runs tasks as processes on this host and cannot run docker images; "+
			"the task asks for image_id docker:%s (use a Nomad cluster with the docker driver)", img)
	}
	if c := r.Infra.Cloud; c != "" && c != "*" && c != catalog.LocalCloud {
		return fmt.Sprintf("the local engine runs on this host only; the task asks for infra %s (use infra: local, or leave infra out)", infraString(r.Infra))
	}
	if reg := r.Infra.Region; reg != "" && reg != "*" && reg != catalog.LocalCloud {
		return fmt.Sprintf("the local engine has only the region local; the task asks for infra %s", infraString(r.Infra))
	}
	if it := r.InstanceType; it != "" && it != catalog.LocalCloud {
		return fmt.Sprintf("the local engine has no instance types; the task asks for instance_type %s", it)
	}
	if len(r.Accelerators) > 0 {
		acc := r.Accelerators[0]
		return fmt.Sprintf("this host has no GPUs; the task asks for %s:%s", acc.Name, formatNumber(acc.Count))
	}
	if q := r.CPUs; q != nil && q.Value > float64(e.cfg.HostCPUs) {
		return fmt.Sprintf("this host has %d CPUs; the task asks for %s", e.cfg.HostCPUs, formatQuantity(*q))
	}
	if q := r.Memory; q != nil && q.Value > e.cfg.HostMemoryGB {
		return fmt.Sprintf("this host has %s GB of memory; the task asks for %s GB", formatNumber(e.cfg.HostMemoryGB), formatQuantity(*q))
	}
	return ""
}

func infraString(i task.Infra) string {
	parts := []string{i.Cloud}
	if i.Region != "" {
		parts = append(parts, i.Region)
	}
	if i.Zone != "" {
		parts = append(parts, i.Zone)
	}
	return strings.Join(parts, "/")
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func formatQuantity(q task.Quantity) string {
	s := formatNumber(q.Value)
	if q.AtLeast {
		s += "+"
	}
	return s
}
