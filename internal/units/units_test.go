package units_test

import (
	"testing"

	"github.com/skynomad/skynomad/internal/units"
)

func TestBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0:             "0 B",
		1023:          "1023 B",
		1024:          "1.0 KiB",
		1536:          "1.5 KiB",
		1<<20 - 1:     "1024.0 KiB",
		200 << 20:     "200.0 MiB",
		3 << 30:       "3.0 GiB",
		5 << 40:       "5.0 TiB",
		1<<62 + 1<<61: "6.0 EiB",
	} {
		if got := units.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
