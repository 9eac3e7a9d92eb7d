package jobs

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	exact := DefaultBackoff
	exact.Jitter = 0
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 60 * time.Second}, {1, 60 * time.Second}, {2, 96 * time.Second}, {3, 153600 * time.Millisecond},
		{4, 245760 * time.Millisecond}, {5, 300 * time.Second}, {50, 300 * time.Second}} {
		if got := exact.Delay(tc.n, nil); got != tc.want {
			t.Errorf("Delay(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	low, high := false, false
	for range 1000 {
		d := DefaultBackoff.Delay(1, r)
		if d < 36*time.Second || d > 84*time.Second {
			t.Fatalf("Delay(1) = %s, outside 60 s ± 40 %%", d)
		}
		low = low || d < 50*time.Second
		high = high || d > 70*time.Second
		if d := DefaultBackoff.Delay(20, r); d < 180*time.Second || d > 420*time.Second {
			t.Fatalf("Delay(20) = %s, outside 300 s ± 40 %%", d)
		}
	}
	if !low || !high {
		t.Error("jitter does not spread the delays")
	}
}
