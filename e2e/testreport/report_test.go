package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReport reads what `go test -json` really prints for a sample package.
func TestReport(t *testing.T) {
	cmd := exec.Command("go", "test", "-json", "-count=1", ".")
	cmd.Dir = "testdata/sample"
	stream, _ := cmd.Output() // the sample has a failing test
	if len(stream) == 0 {
		t.Fatal("go test -json printed nothing")
	}
	var out strings.Builder
	r := newReport(&out)
	r.read(strings.NewReader(string(stream)))
	r.summary()
	got := out.String()

	for _, want := range []string{
		"the job ended FAILED", // a failed test's output, whole
		"--- FAIL: TestFails",  // and its result line
		"FAIL\tsample",         // the package's result line
		"sample TestSkips: sample_test.go:7: no GPU here", // skipped, with the reason
		"real-agent tests: 2 passed, 1 failed, 0 skipped",
		"sample: TestFails(fail) TestPasses TestScenario/nomad",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestPasses (") || strings.Contains(got, "--- PASS") {
		t.Errorf("report repeats passing tests' lines:\n%s", got)
	}
	if r.failed != 1 {
		t.Errorf("failed = %d; want 1", r.failed)
	}
}
