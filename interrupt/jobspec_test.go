package interrupt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestJobspec checks the system job's syntax and that the command line it
// runs is one the handler accepts.
func TestJobspec(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "jobspecs", "skynomad-interrupt-handler.nomad.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	body := f.Body.(*hclsyntax.Body)
	job := onlyBlock(t, body, "job")
	if diff := cmp.Diff([]string{"skynomad-interrupt-handler"}, job.Labels); diff != "" {
		t.Errorf("job labels (-want +got):\n%s", diff)
	}
	if got := literal(t, job.Body, "type"); got != "system" {
		t.Errorf("job type = %q; want system", got)
	}

	c := onlyBlock(t, job.Body, "constraint")
	attr := c.Body.Attributes["attribute"]
	if attr == nil {
		t.Fatal("constraint has no attribute")
	}
	if got := string(attr.Expr.Range().SliceBytes(src)); got != `"${meta.sky.capacity}"` {
		t.Errorf("constraint attribute = %s; want \"${meta.sky.capacity}\"", got)
	}
	if got := literal(t, c.Body, "value"); got != "spot" {
		t.Errorf("constraint value = %q; want spot", got)
	}

	task := onlyBlock(t, onlyBlock(t, job.Body, "group").Body, "task")
	if got := literal(t, task.Body, "driver"); got != "raw_exec" {
		t.Errorf("driver = %q; want raw_exec", got)
	}
	cfg := onlyBlock(t, task.Body, "config")
	argsVal, diags := cfg.Body.Attributes["args"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("args: %s", diags.Error())
	}
	var args []string
	for _, v := range argsVal.AsValueSlice() {
		args = append(args, v.AsString())
	}
	if len(args) == 0 || args[0] != "interrupt-handler" {
		t.Fatalf("args = %q; want the interrupt-handler command", args)
	}
	getenv := func(k string) string {
		if k == "NOMAD_ALLOC_ID" {
			return "5b3e0f4e-0000-0000-0000-000000000000"
		}
		return ""
	}
	if _, err := ParseFlags(args[1:], getenv, testWriter{t}); err != nil {
		t.Errorf("the jobspec's flags are refused: %v", err)
	}
	res := onlyBlock(t, task.Body, "resources")
	for _, k := range []string{"cpu", "memory"} {
		v, diags := res.Body.Attributes[k].Expr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.Number {
			t.Errorf("resources.%s is not a number", k)
		}
	}
}

func onlyBlock(t *testing.T, b *hclsyntax.Body, typ string) *hclsyntax.Block {
	t.Helper()
	var found []*hclsyntax.Block
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			found = append(found, blk)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %q blocks; want 1", len(found), typ)
	}
	return found[0]
}

func literal(t *testing.T, b *hclsyntax.Body, name string) string {
	t.Helper()
	a := b.Attributes[name]
	if a == nil {
		t.Fatalf("no attribute %q", name)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		t.Fatalf("attribute %q is not a literal string", name)
	}
	return v.AsString()
}
