package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// exampleArgs are the flags an example needs (an env it leaves to --env).
var exampleArgs = map[string][]string{
	"train-spot.yaml": {"--env", "WANDB_API_KEY=dummy-key"},
}

// TestTranslateExamples: every file of examples/ translates as the README
// shows (`skynomad translate`), with no error.
func TestTranslateExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in ../examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			args := append(append([]string(nil), exampleArgs[filepath.Base(file)]...), file)
			stdout, stderr, code := runTranslate(t, nil, args...)
			if code != ExitOK || !strings.Contains(stdout, "job \"sky-") {
				t.Errorf("exit code %d, stderr:\n%s", code, stderr)
			}
		})
	}
}
