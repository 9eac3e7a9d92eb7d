package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fileLineCol is the start of an error about a task file, the form
// editors and terminals jump to.
var fileLineCol = regexp.MustCompile(`^[^\s:]+\.ya?ml:\d+:\d+: \S`)

// TestErrorGoldensStartWithFileLineCol guards every golden that holds an
// error about a task file (the translator's bad cases, the translate and
// command goldens here): its first line is path:line:col: field: message,
// never "Error: ..." with the place on other lines.
func TestErrorGoldensStartWithFileLineCol(t *testing.T) {
	t.Parallel()
	translatorBad, _ := filepath.Glob(filepath.Join("..", "translator", "testdata", "bad", "*.golden.txt"))
	translateBad, _ := filepath.Glob(filepath.Join("testdata", "translate-bad-*.txt"))
	commands, _ := filepath.Glob(filepath.Join("testdata", "cmd-*.txt"))
	if len(translatorBad) == 0 || len(translateBad) == 0 || len(commands) == 0 {
		t.Fatalf("goldens missing: %d translator, %d translate, %d command", len(translatorBad), len(translateBad), len(commands))
	}
	for _, g := range append(translatorBad, translateBad...) {
		first, _, _ := strings.Cut(readGolden(t, g), "\n")
		if !fileLineCol.MatchString(first) {
			t.Errorf("%s: first line %q is not path:line:col: field: message", g, first)
		}
	}
	// A command's stderr: a message about a task file (one that names a
	// .yaml) starts with its place; hints are indented, warnings say so.
	names := regexp.MustCompile(`\.ya?ml\b`)
	for _, g := range commands {
		_, stderr, _ := strings.Cut(readGolden(t, g), "--- stderr\n")
		for line := range strings.Lines(stderr) {
			line = strings.TrimSuffix(line, "\n")
			if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "Warning: ") || !names.MatchString(line) {
				continue
			}
			if !fileLineCol.MatchString(line) {
				t.Errorf("%s: %q names a task file but does not start with path:line:col:", g, line)
			}
		}
	}
}

func readGolden(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
