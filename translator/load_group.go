package translator

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// pipelineHeader is the first document of a multi-document file when it
// names the pipeline or job group rather than a task.
type pipelineHeader struct {
	name string
	// group is set for `execution: parallel`, with where its fields were
	// written for errors found once the tasks are read.
	group        *task.Group
	primaryNodes []*yaml.Node
	delayKeys    map[string]*yaml.Node
	doc          *yaml.Node
}

// headerKeys are the keys a pipeline or job-group header may hold.
var headerKeys = []string{"name", "execution", "placement", "inter_connection", "primary_tasks", "termination_delay"}

// header reports whether doc is a header: `name`, optionally `execution`,
// and for a job group `primary_tasks` and `termination_delay`. Any other
// key makes it a task.
func (d *taskDecoder) header(doc *yaml.Node) (*pipelineHeader, error) {
	ps, err := d.pairs(doc, "")
	if err != nil {
		return nil, err
	}
	byName := map[string]*kv{}
	for i := range ps {
		if !slices.Contains(headerKeys, ps[i].name) {
			return nil, nil
		}
		byName[ps[i].name] = &ps[i]
	}
	name := byName["name"]
	if name == nil {
		return nil, nil
	}
	h := &pipelineHeader{doc: doc}
	// placement (SkyPilot's only one: all tasks on the same infra) makes
	// a job group of a header that says nothing of its execution.
	parallel := byName["placement"] != nil
	if ex := byName["execution"]; ex != nil {
		mode, err := d.enum(ex.val, ex.path, []string{"serial", "parallel"})
		if err != nil {
			return nil, err
		}
		parallel = mode == "parallel"
	}
	for _, key := range []string{"placement", "inter_connection", "primary_tasks", "termination_delay"} {
		if p := byName[key]; p != nil && !parallel {
			return nil, d.errorAt(p.key, p.path, "only a job group (execution: parallel) has %s", key).
				accepting("execution: parallel in this header, or no " + key)
		}
	}
	if h.name, err = d.name(name.val, name.path); err != nil {
		return nil, err
	}
	if !parallel {
		return h, nil
	}
	if h.name == "" {
		return nil, d.errorAt(name.val, name.path, "a job group needs a name: its tasks' hostnames are <task>-<rank>.<name>").
			accepting(nameAccepted)
	}
	h.group = &task.Group{}
	if p := byName["placement"]; p != nil {
		// The tasks are always placed in one region (catalog.CoLocate).
		if _, err := d.enum(p.val, p.path, []string{"SAME_INFRA"}); err != nil {
			return nil, err
		}
	}
	if p := byName["inter_connection"]; p != nil {
		connected, err := d.boolean(p.val, p.path)
		if err != nil {
			return nil, err
		}
		h.group.Isolated = !connected
	}
	if p := byName["primary_tasks"]; p != nil {
		if err := d.primaryTasks(p, h); err != nil {
			return nil, err
		}
	}
	if p := byName["termination_delay"]; p != nil {
		if err := d.terminationDelay(p, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (d *taskDecoder) primaryTasks(p *kv, h *pipelineHeader) error {
	seq := unalias(p.val)
	if seq != nil && seq.Kind == yaml.ScalarNode {
		// One name written without brackets.
		seq = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{seq}, Line: seq.Line, Column: seq.Column}
	}
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return d.errorAt(p.val, p.path, "expected a list of task names, got %s", describeNode(p.val)).
			accepting("[trainer] or [trainer, evaluator]")
	}
	for i, n := range seq.Content {
		path := fmt.Sprintf("%s[%d]", p.path, i)
		name, err := d.name(n, path)
		if err != nil {
			return err
		}
		if name == "" {
			return d.errorAt(n, path, "expected a task name, got nothing")
		}
		h.group.PrimaryTasks = append(h.group.PrimaryTasks, name)
		h.primaryNodes = append(h.primaryNodes, unalias(n))
	}
	return nil
}

const delayAccepted = `a duration such as "30s", "5m" or "1h30m", a number of seconds, or a mapping {default: 30s, <task>: 1m}`

func (d *taskDecoder) terminationDelay(p *kv, h *pipelineHeader) error {
	v := unalias(p.val)
	if v != nil && v.Kind == yaml.MappingNode {
		ps, err := d.pairs(v, p.path)
		if err != nil {
			return err
		}
		h.delayKeys = map[string]*yaml.Node{}
		for _, e := range ps {
			delay, err := d.duration(e.val, e.path)
			if err != nil {
				return err
			}
			if e.name == "default" {
				h.group.TerminationDelay.Default = delay
				continue
			}
			if h.group.TerminationDelay.PerTask == nil {
				h.group.TerminationDelay.PerTask = map[string]time.Duration{}
			}
			h.group.TerminationDelay.PerTask[e.name] = delay
			h.delayKeys[e.name] = e.key
		}
		return nil
	}
	delay, err := d.duration(p.val, p.path)
	h.group.TerminationDelay.Default = delay
	return err
}

// duration reads "30s", "5m", "1h30m" or a number of seconds.
func (d *taskDecoder) duration(n *yaml.Node, path string) (time.Duration, error) {
	s, sc, err := d.scalarAt(n, path, "a duration")
	if err != nil {
		return 0, err
	}
	switch sc.kind {
	case intKind, floatKind:
		if sc.f < 0 {
			return 0, d.errorAt(s, path, "%s is negative", sc.raw).accepting(delayAccepted)
		}
		return time.Duration(sc.f * float64(time.Second)), nil
	case strKind:
		v, perr := time.ParseDuration(strings.TrimSpace(sc.raw))
		if perr == nil && v >= 0 {
			return v, nil
		}
	}
	return 0, d.errorAt(s, path, "%s is not a duration", describeNode(s)).accepting(delayAccepted)
}

// checkGroup checks a job group once its tasks are read: every task has
// a name of its own (the hostnames are built from it), primary_tasks and
// termination_delay name tasks of the group, and no task is a pool.
func (d *taskDecoder) checkGroup(h *pipelineHeader, docs []*yaml.Node, tasks []taskDoc) error {
	names := make([]string, len(tasks))
	for i, td := range tasks {
		if td.t.Pool != nil {
			return d.errorAt(td.poolKey, "pool", "a job group's tasks run as jobs, not as a pool")
		}
		if td.t.Name == "" {
			return d.errorAt(docs[i], "name", "every task of a job group needs a name: its hostname is <name>-<rank>.%s", h.name).
				accepting("name: <task name> in this document")
		}
		if j := slices.Index(names[:i], td.t.Name); j >= 0 {
			return d.errorAt(valueOf(docs[i], "name"), "name", "task name %q is used twice in this job group (also task %d)", td.t.Name, j).
				accepting("a name of its own for each task")
		}
		names[i] = td.t.Name
	}
	for i, p := range h.group.PrimaryTasks {
		if !slices.Contains(names, p) {
			return d.errorAt(h.primaryNodes[i], fmt.Sprintf("primary_tasks[%d]", i), "no task of this job group is named %q", p).
				choices(p, names)
		}
	}
	for name, key := range h.delayKeys {
		if !slices.Contains(names, name) {
			return d.errorAt(key, "termination_delay."+name, "no task of this job group is named %q", name).
				choices(name, append([]string{"default"}, names...))
		}
	}
	return nil
}

// valueOf returns the value node of key in the mapping doc, or doc.
func valueOf(doc *yaml.Node, key string) *yaml.Node {
	m := unalias(doc)
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return doc
}
