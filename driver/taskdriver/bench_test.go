package taskdriver

import (
	"testing"
)

// BenchmarkTaskStartToExit: StartTask of a run phase that exits at once,
// over the plugin protocol, until WaitTask reports its exit: what the
// plugin adds to each Nomad task (the runner's start, bash, the result
// file). The alloc dir and log collector are made outside the clock.
func BenchmarkTaskStartToExit(b *testing.B) {
	h := harness(b, newDriver(b), me(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		task := newTestTask(b, h, "t", TaskConfig{Phase: "run"}, "", "true")
		b.StartTimer()
		if _, _, err := h.StartTask(task); err != nil {
			b.Fatal(err)
		}
		if r := wait(b, h, task.ID); r.ExitCode != 0 {
			b.Fatalf("exit %+v", r)
		}
	}
}
