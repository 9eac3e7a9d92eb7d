package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/jobs/api"
)

// A SkyPilot user runs `jobs launch` in their project with `workdir: .`
// and relative file_mounts sources: the paths are theirs, not the
// controller's, and the task sees the files.
func TestProjectLaunchedFromItsOwnDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, localTarget())
	proj := filepath.Join(h.work, "proj")
	for _, d := range []string{"data", "src"} {
		if err := os.MkdirAll(filepath.Join(proj, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"src/train.sh":  "echo training from $(basename $(pwd))\n",
		"data/rows.csv": "a,b\n1,2\n",
		"config.txt":    "lr=0.1\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(proj, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mounted := filepath.Join(h.work, "mnt", "config.txt")
	task := `name: proj
workdir: .
file_mounts:
  ` + mounted + `: ./config.txt
  inputs: data
run: |
  bash src/train.sh
  cat ` + mounted + `
  cat inputs/rows.csv
`
	if err := os.WriteFile(filepath.Join(proj, "task.yaml"), []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.runIn(proj, "jobs", "launch", "-y", "task.yaml")
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	containsInOrder(t, "job output", r.stdout, "training from sky_workdir", "lr=0.1", "a,b", "1,2", "(status: SUCCEEDED)")
	if _, err := os.Lstat(mounted); !os.IsNotExist(err) {
		t.Errorf("the mount %s is left on the host after the job (%v)", mounted, err)
	}

	// --workdir is the caller's too.
	if err := os.WriteFile(filepath.Join(proj, "src.yaml"), []byte("name: src\nrun: bash train.sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.runIn(proj, "jobs", "launch", "-y", "--workdir", "src", "src.yaml")
	if r.code != 0 {
		t.Fatalf("--workdir src: want exit 0:\n%s", r)
	}
	containsInOrder(t, "job output", r.stdout, "training from sky_workdir", "(status: SUCCEEDED)")
}

// Paths that do not exist are refused before anything is submitted, with
// an error an editor can jump to.
func TestMissingLocalPathsAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, localTarget())
	proj := filepath.Join(h.work, "proj")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, first string
	}{
		{"name: a\nworkdir: ./nope\nrun: ls\n",
			"task.yaml:2:10: workdir: ./nope does not exist (looked for " + filepath.Join(proj, "nope") + ")"},
		{"run: ls\nfile_mounts:\n  /tmp/x: ./missing.txt\n",
			"task.yaml:3:11: file_mounts./tmp/x: source ./missing.txt does not exist (looked for " + filepath.Join(proj, "missing.txt") + ")"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(filepath.Join(proj, "task.yaml"), []byte(tt.file), 0o644); err != nil {
			t.Fatal(err)
		}
		r := h.runIn(proj, "jobs", "launch", "-y", "-d", "task.yaml")
		if r.code != 1 {
			t.Errorf("want exit 1:\n%s", r)
		}
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if first != tt.first {
			t.Errorf("first line of stderr:\n got %s\nwant %s", first, tt.first)
		}
		if !strings.Contains(rest, "accepted: an existing local") {
			t.Errorf("no accepted forms under the error:\n%s", r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(h.home, "controller.sock")); err == nil {
		t.Errorf("a controller was started for a job that could not be submitted")
	}
}

// The README's commands work as written, in a fresh home, from the root of
// the repository.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t, localTarget())
	cmds := readmeCommands(t, "../README.md")
	if len(cmds) < 5 {
		t.Fatalf("found %d skynomad commands in the README: %q", len(cmds), cmds)
	}
	for _, args := range cmds {
		if args[0] == "dashboard" {
			// It serves until Ctrl-C: it must print where.
			var seen []string
			_, lines := h.background(args...)
			until(t, lines, regexp.MustCompile(`^Dashboard: http://127\.0\.0\.1:\d+/\?token=\w+$`), &seen)
			continue
		}
		if r := h.runIn("..", args...); r.code != 0 {
			t.Errorf("README command failed:\n%s", r)
		}
	}
	jobs := h.queue()
	if len(jobs) == 0 || jobs[len(jobs)-1].Status != api.StatusSucceeded {
		t.Errorf("the README's job did not succeed:\n%s", dump(jobs))
	}
}

// readmeCommands lists the `bin/skynomad ...` commands of the README's sh
// blocks, without comments, as argument lists.
func readmeCommands(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	inSh := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		}
		if !inSh {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		for _, part := range strings.Split(line, "&&") {
			fields := strings.Fields(part)
			if len(fields) > 1 && fields[0] == "bin/skynomad" {
				out = append(out, fields[1:])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
