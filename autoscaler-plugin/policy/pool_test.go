package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/internal/golden"
)

var gpus = Pool{Name: "gpus", Workers: 3,
	Offering: cloud.Offering{Cloud: "aws", Region: "us-east-1", InstanceType: "p4d.24xlarge", Spot: true}}

func TestRenderPoolGolden(t *testing.T) {
	t.Parallel()
	golden.Check(t, filepath.Join("testdata", PoolFile(gpus.Name)), RenderPool(gpus, opts), *update)
}

// TestReadPoolReadsWhatRenderPoolWrites: a retired pool's policy is
// rewritten from what its file says.
func TestReadPoolReadsWhatRenderPoolWrites(t *testing.T) {
	t.Parallel()
	for _, p := range []Pool{gpus, {Name: "cpu.small", Workers: 0, Offering: cloud.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-8"}}} {
		path := filepath.Join(t.TempDir(), PoolFile(p.Name))
		if err := os.WriteFile(path, []byte(RenderPool(p, opts)), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPool(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}
	}
}

// TestWritePoolsRetiresGonePools: a pool the controller no longer has
// keeps its policy file, at zero nodes, so the autoscaler takes its nodes
// down; an offering's policy is never touched.
func TestWritePoolsRetiresGonePools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cpus := Pool{Name: "cpus", Workers: 2, Offering: cloud.Offering{Cloud: "gcp", Region: "us-central1", InstanceType: "n2-standard-8"}}
	offering := filepath.Join(dir, "sky-aws-us-east-1-m6i.large-spot.hcl")
	if _, err := Write(dir, []cloud.Offering{{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.large", Spot: true}}, opts); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(offering)

	files, retired, err := WritePools(dir, []Pool{gpus, cpus}, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "sky-pool-gpus.hcl"), filepath.Join(dir, "sky-pool-cpus.hcl")}
	if !cmp.Equal(want, files) || len(retired) > 0 {
		t.Errorf("files %v, retired %v; want %v, none", files, retired, want)
	}

	// cpus is taken down.
	files, retired, err = WritePools(dir, []Pool{gpus}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "sky-pool-gpus.hcl"), filepath.Join(dir, "sky-pool-cpus.hcl")}; !cmp.Equal(want, files) {
		t.Errorf("files %v, want %v", files, want)
	}
	if !cmp.Equal([]string{"cpus"}, retired) {
		t.Errorf("retired %v, want [cpus]", retired)
	}
	got, err := ReadPool(filepath.Join(dir, "sky-pool-cpus.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	zero := cpus
	zero.Workers = 0
	if diff := cmp.Diff(zero, got); diff != "" {
		t.Errorf("the retired pool's policy (-want +got):\n%s", diff)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "sky-pool-cpus.hcl"))
	for _, line := range []string{"min     = 0", "max     = 0", "value = 0"} {
		if !strings.Contains(string(text), line) {
			t.Errorf("the retired pool's policy lacks %q:\n%s", line, text)
		}
	}

	// Again: still retired, not written again.
	files, retired, err = WritePools(dir, []Pool{gpus}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal([]string{filepath.Join(dir, "sky-pool-gpus.hcl")}, files) || !cmp.Equal([]string{"cpus"}, retired) {
		t.Errorf("files %v, retired %v; want only gpus written, cpus retired", files, retired)
	}
	if after, _ := os.ReadFile(offering); string(after) != string(before) {
		t.Errorf("an offering's policy was changed")
	}
}

func TestWritePoolsRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := gpus
	bad.Name = "../gpus"
	if _, _, err := WritePools(dir, []Pool{bad}, opts); err == nil || !strings.Contains(err.Error(), `pool "../gpus": not a name`) {
		t.Errorf("a pool named ../gpus: %v", err)
	}
	// A pool file skynomad did not write is not rewritten.
	if err := os.WriteFile(filepath.Join(dir, "sky-pool-mine.hcl"), []byte(`scaling "x" {}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := WritePools(dir, nil, opts); err == nil || !strings.Contains(err.Error(), "not a pool policy skynomad wrote") {
		t.Errorf("a foreign pool file: %v", err)
	}
}
