package translator

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// located is the shape every message about a task file starts with.
var located = regexp.MustCompile(`^[^:]+:\d+:\d+: `)

// testEnviron stands for the user's shell environment in tests.
func testEnviron(name string) (string, bool) {
	v, ok := map[string]string{"FROM_SHELL": "shell-value"}[name]
	return v, ok
}

// argSetters apply one line of a <case>.args file (the `jobs launch`
// flags the case is loaded with).
var argSetters = map[string]func(o *LoadOptions, v string) error{
	"--env": func(o *LoadOptions, v string) error {
		e, err := ParseEnvFlag(v, testEnviron)
		o.Env = append(o.Env, e)
		return err
	},
	"--secret": func(o *LoadOptions, v string) error {
		e, err := ParseSecretFlag(v, testEnviron)
		o.Secrets = append(o.Secrets, e)
		return err
	},
	"--name":          func(o *LoadOptions, v string) error { o.Overrides.Name = v; return nil },
	"--infra":         func(o *LoadOptions, v string) error { o.Overrides.Infra = v; return nil },
	"--cpus":          func(o *LoadOptions, v string) error { o.Overrides.CPUs = v; return nil },
	"--memory":        func(o *LoadOptions, v string) error { o.Overrides.Memory = v; return nil },
	"--gpus":          func(o *LoadOptions, v string) error { o.Overrides.GPUs = v; return nil },
	"--instance-type": func(o *LoadOptions, v string) error { o.Overrides.InstanceType = v; return nil },
	"--image-id":      func(o *LoadOptions, v string) error { o.Overrides.ImageID = v; return nil },
	"--disk-size":     func(o *LoadOptions, v string) error { o.Overrides.DiskSize = v; return nil },
	"--job-recovery":  func(o *LoadOptions, v string) error { o.Overrides.JobRecovery = v; return nil },
	"--workdir":       func(o *LoadOptions, v string) error { o.Overrides.Workdir = v; return nil },
	"--num-nodes":     func(o *LoadOptions, v string) error { o.Overrides.NumNodes = v; return nil },
	"--use-spot":      func(o *LoadOptions, _ string) error { o.Overrides.UseSpot = ptrTo(true); return nil },
	"--no-use-spot":   func(o *LoadOptions, _ string) error { o.Overrides.UseSpot = ptrTo(false); return nil },
}

func ptrTo[T any](v T) *T { return &v }

// caseOptions reads the optional <case>.args file beside a test case.
func caseOptions(t testing.TB, yamlPath string) LoadOptions {
	t.Helper()
	var opts LoadOptions
	data, err := os.ReadFile(strings.TrimSuffix(yamlPath, ".yaml") + ".args")
	if errors.Is(err, os.ErrNotExist) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		set, ok := argSetters[name]
		if !ok {
			t.Fatalf("%s: unknown flag %q", yamlPath, name)
		}
		if err := set(&opts, value); err != nil {
			t.Fatalf("%s: %s: %v", yamlPath, line, err)
		}
	}
	return opts
}

// caseFiles lists testdata/<dir>/*.yaml.
func caseFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases in testdata/%s: %v", dir, err)
	}
	return files
}

// loadCase loads a testdata file under its name relative to testdata/.
func loadCase(t testing.TB, path string, opts LoadOptions) (*task.DAG, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel("testdata", path)
	return Load(filepath.ToSlash(rel), data, opts)
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./translator -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
	}
}

// eachCase runs test in parallel on each testdata/<dir>/*.yaml, loaded
// with its .args.
func eachCase(t *testing.T, dir string, test func(t *testing.T, path string, dag *task.DAG, err error)) {
	t.Helper()
	for _, path := range caseFiles(t, dir) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			dag, err := loadCase(t, path, caseOptions(t, path))
			test(t, path, dag, err)
		})
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	eachCase(t, "good", func(t *testing.T, path string, dag *task.DAG, err error) {
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		out, err := json.MarshalIndent(dag, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, strings.TrimSuffix(path, ".yaml")+".golden.json", string(out)+"\n")
	})
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	eachCase(t, "bad", func(t *testing.T, path string, dag *task.DAG, err error) {
		if err == nil {
			t.Fatalf("Load accepted the file: %+v", dag)
		}
		var e *Error
		if !errors.As(err, &e) || e.Line < 1 || e.Col < 1 {
			t.Errorf("error %q is %T with line %d, want a located *Error", err, err, e.Line)
		}
		checkGolden(t, strings.TrimSuffix(path, ".yaml")+".golden.txt", err.Error()+"\n")
	})
}

// TestBadGoldensAreLocated guards the golden files themselves: every
// message a user sees about a bad file starts with file:line:col.
func TestBadGoldensAreLocated(t *testing.T) {
	t.Parallel()
	goldens, err := filepath.Glob("testdata/bad/*.golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(goldens) < len(caseFiles(t, "bad")) {
		t.Fatalf("%d bad goldens for %d bad cases", len(goldens), len(caseFiles(t, "bad")))
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		if msg := string(data); !located.MatchString(msg) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: %q is not one line starting with file:line:col", g, msg)
		}
	}
}

// TestSharedExamples loads the project's examples where they are (the
// copies in testdata/ must not drift from them).
func TestSharedExamples(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "shared", "examples")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no shared examples beside the repository: %v", err)
	}
	good, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	bad, _ := filepath.Glob(filepath.Join(dir, "bad", "*.yaml"))
	if len(good) == 0 || len(bad) == 0 {
		t.Fatalf("examples missing in %s", dir)
	}
	for _, path := range good {
		copyPath := filepath.Join("testdata", "good", filepath.Base(path))
		if _, err := LoadFile(path, caseOptions(t, copyPath)); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		sameFile(t, path, copyPath)
	}
	for _, path := range bad {
		_, err := LoadFile(path, LoadOptions{})
		if err == nil || !located.MatchString(err.Error()) {
			t.Errorf("%s: got %v, want a located error", path, err)
		}
		sameFile(t, path, filepath.Join("testdata", "bad", filepath.Base(path)))
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	da, errA := os.ReadFile(a)
	db, errB := os.ReadFile(b)
	if errA != nil || errB != nil || string(da) != string(db) {
		t.Errorf("%s differs from %s (copy it again)", b, a)
	}
}

func TestLoadWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"good/pool.yaml", []string{
			"good/pool.yaml:15:6: run: ignored in a pool file: workers only run setup; jobs submitted with --pool bring their own run",
		}},
		{"good/pool-minmax.yaml", []string{
			"good/pool-minmax.yaml:13:6: run: ignored in a pool file: workers only run setup; jobs submitted with --pool bring their own run",
		}},
		{"good/accel-set-unknown.yaml", []string{
			`good/accel-set-unknown.yaml:3:27: resources.accelerators: unknown accelerator "GH300": no offering has it; the other choices are planned`,
		}},
		{"good/hello.yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			var got []string
			dag, err := loadCase(t, filepath.Join("testdata", tt.file), LoadOptions{Warn: func(s string) { got = append(got, s) }})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if dag.Tasks[0].Pool != nil && dag.Tasks[0].Run != "" {
				t.Errorf("pool task kept run %q", dag.Tasks[0].Run)
			}
		})
	}
}

func TestErrorRendering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.yaml", Line: 4, Col: 3, Field: "resources.accelerator", Msg: "unknown field", Accepted: "accelerators, any_of", Suggestion: "accelerators"},
			`a.yaml:4:3: resources.accelerator: unknown field; did you mean "accelerators"? accepted: accelerators, any_of`},
		{Error{File: "a.yaml", Line: 2, Col: 1, Msg: "not valid YAML: x"}, "a.yaml:2:1: not valid YAML: x"},
		{Error{Field: "--gpus", Msg: "bad", Accepted: "NAME"}, "--gpus: bad; accepted: NAME"},
		{Error{File: "p.yaml", Field: "--cpus", Msg: "no"}, "p.yaml: --cpus: no"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	wrapped := fmt.Errorf("launch: %w", &Error{Msg: "x"})
	if !IsError(wrapped) || IsError(errors.New("x")) {
		t.Error("IsError does not see through wrapping, or sees an *Error that is not there")
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	choices := []string{"accelerators", "any_of", "cpus", "memory", "A100", "A100-80GB"}
	for got, want := range map[string]string{
		"accelerator": "accelerators",
		"cpu":         "cpus",
		"memroy":      "memory",
		"a1000":       "A100",
		"banana":      "",
		"cpus":        "",
	} {
		if s := nearestChoice(got, choices); s != want {
			t.Errorf("nearest(%q) = %q, want %q", got, s, want)
		}
	}
}

func TestPythonStr(t *testing.T) {
	t.Parallel()
	// What Python's str() gives for the value PyYAML loads from each plain scalar.
	for in, want := range map[string]string{
		"yes": "True", "Off": "False", "y": "y", "yEs": "yEs",
		"010": "8", "0x1F": "31", "0b101": "5", "-1_000": "-1000", "1:30": "90", "0": "0",
		"1.50": "1.5", "1.": "1.0", "1.0e+20": "1e+20", "1.0e+15": "1000000000000000.0",
		"0.00001": "1e-05", "0.0001": "0.0001", ".5": "0.5", "-.inf": "-inf", ".NaN": "nan",
		"1e3": "1e3", "3.10": "3.1", "~": "None", "hello": "hello", "2024-01-02": "2024-01-02",
	} {
		if got := resolveScalar(&yaml.Node{Kind: yaml.ScalarNode, Value: in}).text; got != want {
			t.Errorf("str(%s) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	type input struct {
		name string
		data []byte
		opts LoadOptions
	}
	var inputs []input
	for _, path := range caseFiles(b, "good") {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, input{path, data, caseOptions(b, path)})
	}
	files := 0
	for b.Loop() {
		for _, in := range inputs {
			if _, err := Load(in.name, in.data, in.opts); err != nil {
				b.Fatal(err)
			}
			files++
		}
	}
	b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
}
