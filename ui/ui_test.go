package ui

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// session is what a command would do with a UI.
var sessions = []struct {
	name  string
	stdin string
	run   func(t *testing.T, u UI)
}{
	{
		name: "resources-table",
		run: func(t *testing.T, u UI) {
			u.Output("Considered resources (1 node):")
			u.Table(Table{
				Style:   StyleRuled,
				Headers: []string{"INFRA", "INSTANCE", "vCPUs", "Mem(GB)", "GPUS", "COST ($)", "CHOSEN"},
				Align:   []Align{6: AlignCenter},
				Rows: [][]string{
					{"AWS (us-east-1)", "m6i.2xlarge", "8", "32", "-", "0.38", "✔"},
					{"GCP (us-central1)", "n2-standard-8", "8", "32", "-", "0.39", ""},
				},
			})
		},
	},
	{
		name: "compact-table",
		run: func(t *testing.T, u UI) {
			u.Table(Table{
				Headers: []string{"ID", "TASK", "NAME", "STATUS"},
				Rows: [][]string{
					{"8", "", "pipeline", "RECOVERING"},
					{" ↳", "0", "train", "RECOVERING"},
					{" ↳", "1", "eval"},
				},
			})
		},
	},
	{
		name: "steps",
		run: func(t *testing.T, u UI) {
			s := u.Step("Starting the controller")
			s.Update("Waiting for the controller to answer")
			u.Output("a line printed while waiting")
			s.Done("Controller started")
			s.Done("ignored: already ended")
			f := u.Step("Submitting")
			f.Fail("")
			u.Success("Managed job finished: 1 (status: SUCCEEDED).")
			u.Failure("Managed job finished: 2 (status: FAILED).")
		},
	},
	{
		name: "input-error",
		run: func(t *testing.T, u UI) {
			u.InputError(`bad.yaml:3:1: resourcez: unknown field`, `did you mean "resources"?`, "", "accepted: envs, name, resources, run")
			u.InputError(`--num-nodes: "two" is not an integer`, "accepted: an integer >= 1")
			u.Error(errors.New("no controller answers at unix:///h/controller.sock"))
			u.Warn("the `run` section is ignored for a pool")
			u.Info("Starting the local controller...")
		},
	},
	{
		name:  "ask-answers",
		stdin: "maybe\nn\n\nyes\n",
		run: func(t *testing.T, u UI) {
			for i, want := range []bool{false, true, true} {
				got, err := u.Ask("Proceed?")
				if err != nil || got != want {
					t.Errorf("answer %d = %v, %v; want %v, nil", i, got, err, want)
				}
			}
			if _, err := u.Ask("Proceed?"); !errors.Is(err, ErrNoAnswer) {
				t.Errorf("Ask at end of input: err = %v, want ErrNoAnswer", err)
			}
		},
	},
	{
		name: "ask-no-input",
		run: func(t *testing.T, u UI) {
			_, err := u.Ask("Launching a managed job 'hello'. Proceed?")
			if !errors.Is(err, ErrNoAnswer) {
				t.Fatalf("err = %v, want ErrNoAnswer", err)
			}
			u.Error(err)
		},
	},
}

func TestTranscripts(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name string
		make func(in string, out, errOut *bytes.Buffer) UI
	}{
		{"plain", func(in string, out, errOut *bytes.Buffer) UI {
			return NewPlain(strings.NewReader(in), out, errOut)
		}},
		{"interactive", func(in string, out, errOut *bytes.Buffer) UI {
			u := NewInteractive(strings.NewReader(in), out, errOut)
			u.Interval = time.Hour // no animation frames: the transcript is exact
			return u
		}},
	}
	for _, k := range kinds {
		for _, s := range sessions {
			t.Run(k.name+"/"+s.name, func(t *testing.T) {
				t.Parallel()
				var out, errOut bytes.Buffer
				s.run(t, k.make(s.stdin, &out, &errOut))
				golden(t, k.name+"-"+s.name+".txt", "--- stdout\n"+out.String()+"--- stderr\n"+errOut.String())
			})
		}
	}
}

func TestNewPicksPlainOffTerminal(t *testing.T) {
	t.Parallel()
	if New(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}).Interactive() {
		t.Error("New on buffers returned an interactive UI")
	}
}

func TestSpinnerAnimates(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	u := NewInteractive(strings.NewReader(""), &syncWriter{w: &out}, &bytes.Buffer{})
	u.Interval = time.Millisecond
	s := u.Step("waiting")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(u.snapshot(&out), spinnerFrames[2]) {
		if time.Now().After(deadline) {
			t.Fatalf("no third frame drawn: %q", u.snapshot(&out))
		}
		time.Sleep(time.Millisecond)
	}
	s.Done("")
	got := u.snapshot(&out)
	if want := clearLine + ansiGreen + "✓ " + ansiReset + "waiting\n"; !strings.HasSuffix(got, want) {
		t.Errorf("after Done output ends %q, want suffix %q", got[max(0, len(got)-40):], want)
	}
}

// syncWriter lets the test read what the spinner goroutine writes.
type syncWriter struct{ w *bytes.Buffer }

func (s *syncWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func (u *Interactive) snapshot(b *bytes.Buffer) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return b.String()
}
