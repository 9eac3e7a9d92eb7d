package render

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/nomad/api"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// TestJobHCLCarriesTheJob parses each rendered jobspec with HCL's own
// parser, decodes it with a small decoder and checks it says what the job
// says: IDs, counts, placement, commands, env, scripts, artifacts.
func TestJobHCLCarriesTheJob(t *testing.T) {
	t.Parallel()
	for i, tc := range attempts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := render(t, i)
			text, err := JobHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			got := summarizeHCL(t, text)
			if diff := cmp.Diff(summarizeJob(job), got); diff != "" {
				t.Errorf("jobspec vs job (-job +jobspec):\n%s\njobspec:\n%s", diff, text)
			}
		})
	}
}

// TestStringTokensReadBack: any string comes back from the jobspec as
// written, whether printed quoted or as a heredoc.
func TestStringTokensReadBack(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", "${NOMAD_TASK_DIR}/run.sh", "%{ if x }", "$${already}", "$$${x}", `back\slash "q"`,
		"heredoc\n", "two\nlines\n", "no final newline\nhere", "EOT\nclosing marker inside\nEOT\n",
		"  EOT  \nEOT1\n", "crlf\r\n", "tab\tand ${x} %{y}\n", "bell\a\n", "ünïcode ✓\n", "\n",
	} {
		job := &api.Job{ID: new("x"), Meta: map[string]string{"m": s}, TaskGroups: []*api.TaskGroup{{
			Name:  new("g"),
			Tasks: []*api.Task{{Name: "t", Templates: []*api.Template{{EmbeddedTmpl: new(s), DestPath: new("local/x")}}}},
		}}}
		text, err := JobHCL(job)
		if err != nil {
			t.Fatal(err)
		}
		root := parseHCL(t, text)
		job1 := root.block(t, "job")
		if got := job1.attrs["meta"].(map[string]any)["m"]; got != s {
			t.Errorf("meta value %q reads back as %q from\n%s", s, got, text)
		}
		tmpl := job1.block(t, "group").block(t, "task").block(t, "template")
		if got := tmpl.attrs["data"]; got != s && s != "" {
			t.Errorf("template data %q reads back as %q from\n%s", s, got, text)
		}
	}
}

// hclNode is a decoded HCL body: attributes as Go values, blocks in order.
type hclNode struct {
	labels []string
	attrs  map[string]any
	blocks []struct {
		typ  string
		node *hclNode
	}
}

func (n *hclNode) all(typ string) []*hclNode {
	var out []*hclNode
	for _, b := range n.blocks {
		if b.typ == typ {
			out = append(out, b.node)
		}
	}
	return out
}

func (n *hclNode) block(t *testing.T, typ string) *hclNode {
	t.Helper()
	bs := n.all(typ)
	if len(bs) != 1 {
		t.Fatalf("want one %s block, have %d", typ, len(bs))
	}
	return bs[0]
}

func (n *hclNode) str(key string) string {
	s, _ := n.attrs[key].(string)
	return s
}

// parseHCL parses text with hclsyntax and evaluates every attribute with no
// variables or functions: a jobspec that needs any would fail here.
func parseHCL(t *testing.T, text []byte) *hclNode {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(text, "job.nomad.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("jobspec does not parse: %v\n%s", diags, text)
	}
	return decodeBody(t, f.Body.(*hclsyntax.Body))
}

func decodeBody(t *testing.T, b *hclsyntax.Body) *hclNode {
	t.Helper()
	n := &hclNode{attrs: map[string]any{}}
	for name, attr := range b.Attributes {
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("attribute %s: %v", name, diags)
		}
		js, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			t.Fatal(err)
		}
		var goV any
		if err := json.Unmarshal(js, &goV); err != nil {
			t.Fatal(err)
		}
		n.attrs[name] = goV
	}
	for _, blk := range b.Blocks {
		child := decodeBody(t, blk.Body)
		child.labels = blk.Labels
		n.blocks = append(n.blocks, struct {
			typ  string
			node *hclNode
		}{blk.Type, child})
	}
	return n
}

// jobSummary is what a jobspec must carry for skynomad's jobs to behave.
type jobSummary struct {
	ID, Name, Type, Region, Namespace, NodePool string
	Priority                                    float64
	Datacenters                                 []string
	Meta                                        map[string]string
	Groups                                      []groupSummary
}

type groupSummary struct {
	Name        string
	Count       float64
	Constraints []string
	Restart     string
	Reschedule  string
	DiskMB      float64
	Ports       []string // static ports: label=N
	Tasks       []taskSummary
}

type taskSummary struct {
	Name, Driver, Hook, KillTimeout, KillSignal string
	Config                                      string // JSON
	Env                                         map[string]string
	Templates                                   []string
	Artifacts                                   []string
	CPU, MemoryMB                               float64
	Devices                                     []string
}

func constraintText(attr, op, value string) string { return attr + " " + op + " " + value }

func summarizeJob(job *api.Job) jobSummary {
	s := jobSummary{
		ID: *job.ID, Name: strOr(job.Name), Type: strOr(job.Type), Region: strOr(job.Region), Namespace: strOr(job.Namespace),
		NodePool: strOr(job.NodePool), Datacenters: job.Datacenters, Meta: job.Meta,
	}
	if job.Priority != nil {
		s.Priority = float64(*job.Priority)
	}
	for _, g := range job.TaskGroups {
		gs := groupSummary{Name: *g.Name}
		if g.Count != nil {
			gs.Count = float64(*g.Count)
		}
		for _, c := range g.Constraints {
			gs.Constraints = append(gs.Constraints, constraintText(c.LTarget, c.Operand, c.RTarget))
		}
		if r := g.RestartPolicy; r != nil {
			gs.Restart = fmt.Sprintf("%d %s", *r.Attempts, *r.Mode)
		}
		if r := g.ReschedulePolicy; r != nil {
			gs.Reschedule = fmt.Sprintf("%d %t", *r.Attempts, *r.Unlimited)
		}
		if d := g.EphemeralDisk; d != nil {
			gs.DiskMB = float64(*d.SizeMB)
		}
		for _, n := range g.Networks {
			for _, p := range n.ReservedPorts {
				gs.Ports = append(gs.Ports, fmt.Sprintf("%s=%d", p.Label, p.Value))
			}
		}
		for _, tk := range g.Tasks {
			ts := taskSummary{
				Name: tk.Name, Driver: tk.Driver, KillSignal: tk.KillSignal, Env: tk.Env,
				Config: mustJSON(tk.Config),
			}
			if tk.Lifecycle != nil {
				ts.Hook = tk.Lifecycle.Hook
			}
			if tk.KillTimeout != nil {
				ts.KillTimeout = tk.KillTimeout.String()
			}
			for _, tmpl := range tk.Templates {
				ts.Templates = append(ts.Templates, templateText(*tmpl.DestPath, *tmpl.EmbeddedTmpl, tmpl.Envvars != nil && *tmpl.Envvars,
					strOr(tmpl.LeftDelim), strOr(tmpl.RightDelim), strOr(tmpl.Perms), strOr(tmpl.ChangeMode)))
			}
			for _, a := range tk.Artifacts {
				ts.Artifacts = append(ts.Artifacts, *a.GetterSource+" -> "+*a.RelativeDest)
			}
			if r := tk.Resources; r != nil {
				ts.CPU, ts.MemoryMB = float64(*r.CPU), float64(*r.MemoryMB)
				for _, d := range r.Devices {
					dev := fmt.Sprintf("%s x%d", d.Name, *d.Count)
					for _, c := range d.Constraints {
						dev += "; " + constraintText(c.LTarget, c.Operand, c.RTarget)
					}
					ts.Devices = append(ts.Devices, dev)
				}
			}
			gs.Tasks = append(gs.Tasks, ts)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// summarizeHCL is the tiny jobspec decoder: it reads the blocks and
// attributes JobHCL writes, by their jobspec names.
func summarizeHCL(t *testing.T, text []byte) jobSummary {
	t.Helper()
	job := parseHCL(t, text).block(t, "job")
	s := jobSummary{
		ID: job.labels[0], Name: job.str("name"), Type: job.str("type"), Region: job.str("region"), Namespace: job.str("namespace"),
		NodePool: job.str("node_pool"), Meta: stringMap(job.attrs["meta"]),
	}
	if s.Name == "" {
		s.Name = s.ID // the jobspec leaves out a name that is the ID
	}
	s.Priority, _ = job.attrs["priority"].(float64)
	for _, dc := range job.attrs["datacenters"].([]any) {
		s.Datacenters = append(s.Datacenters, dc.(string))
	}
	for _, g := range job.all("group") {
		gs := groupSummary{Name: g.labels[0]}
		gs.Count, _ = g.attrs["count"].(float64)
		for _, c := range g.all("constraint") {
			gs.Constraints = append(gs.Constraints, constraintText(c.str("attribute"), c.str("operator"), c.str("value")))
		}
		if r := g.all("restart"); len(r) == 1 {
			gs.Restart = fmt.Sprintf("%v %v", r[0].attrs["attempts"], r[0].attrs["mode"])
		}
		if r := g.all("reschedule"); len(r) == 1 {
			gs.Reschedule = fmt.Sprintf("%v %v", r[0].attrs["attempts"], r[0].attrs["unlimited"])
		}
		if d := g.all("ephemeral_disk"); len(d) == 1 {
			gs.DiskMB = d[0].attrs["size"].(float64)
		}
		for _, n := range g.all("network") {
			for _, p := range n.all("port") {
				gs.Ports = append(gs.Ports, fmt.Sprintf("%s=%v", p.labels[0], p.attrs["static"]))
			}
		}
		for _, tk := range g.all("task") {
			ts := taskSummary{
				Name: tk.labels[0], Driver: tk.str("driver"), KillSignal: tk.str("kill_signal"),
				Env: stringMap(tk.attrs["env"]), Config: mustJSON(tk.block(t, "config").attrs),
			}
			if lc := tk.all("lifecycle"); len(lc) == 1 {
				ts.Hook = lc[0].str("hook")
			}
			if kt := tk.str("kill_timeout"); kt != "" {
				d, err := time.ParseDuration(kt)
				if err != nil {
					t.Fatal(err)
				}
				ts.KillTimeout = d.String()
			}
			for _, tmpl := range tk.all("template") {
				env, _ := tmpl.attrs["env"].(bool)
				ts.Templates = append(ts.Templates, templateText(tmpl.str("destination"), tmpl.str("data"), env,
					tmpl.str("left_delimiter"), tmpl.str("right_delimiter"), tmpl.str("perms"), tmpl.str("change_mode")))
			}
			for _, a := range tk.all("artifact") {
				ts.Artifacts = append(ts.Artifacts, a.str("source")+" -> "+a.str("destination"))
			}
			if rs := tk.all("resources"); len(rs) == 1 {
				r := rs[0]
				ts.CPU, _ = r.attrs["cpu"].(float64)
				ts.MemoryMB, _ = r.attrs["memory"].(float64)
				for _, d := range r.all("device") {
					dev := fmt.Sprintf("%s x%v", d.labels[0], d.attrs["count"])
					for _, c := range d.all("constraint") {
						dev += "; " + constraintText(c.str("attribute"), c.str("operator"), c.str("value"))
					}
					ts.Devices = append(ts.Devices, dev)
				}
			}
			gs.Tasks = append(gs.Tasks, ts)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

func templateText(dest, data string, env bool, left, right, perms, change string) string {
	return strings.Join([]string{dest, fmt.Sprint(env), left, right, perms, change, data}, "|")
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, e := range m {
		out[k] = e.(string)
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
