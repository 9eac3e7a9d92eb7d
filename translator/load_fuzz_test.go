package translator

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, every error
// must be a located *Error, and every accepted file must give a usable DAG.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dag, err := Load("fuzz.yaml", data, LoadOptions{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || !located.MatchString(err.Error()) {
				t.Fatalf("error %q (%T) is not a located *Error", err, err)
			}
			return
		}
		if len(dag.Tasks) == 0 || !namePattern.MatchString(dag.Name) {
			t.Fatalf("accepted DAG has no task or a bad name: %+v", dag)
		}
		for _, tk := range dag.Tasks {
			if len(tk.Candidates) == 0 || tk.NumNodes < 1 || !namePattern.MatchString(tk.Name) {
				t.Fatalf("accepted task is unusable: %+v", tk)
			}
			for _, c := range tk.Candidates {
				if len(c.Accelerators) > 1 || c.JobRecovery.Strategy == "" {
					t.Fatalf("candidate not normalised: %+v", c)
				}
			}
		}
		if _, err := json.Marshal(dag); err != nil {
			t.Fatalf("DAG does not marshal: %v", err)
		}
	})
}
