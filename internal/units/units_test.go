package units_test

import (
	"testing"
	"time"

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

func TestTimesAndMoney(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		units.Ago(3 * time.Second):                                    "a few secs ago",
		units.Ago(61 * time.Second):                                   "1 min ago",
		units.Ago(-time.Hour):                                         "a few secs ago",
		units.Ago(50 * time.Hour):                                     "2 days ago",
		units.Duration(2*time.Hour + 47*time.Minute + 18*time.Second): "2h 47m 18s",
		units.Duration(27*time.Hour + 5*time.Second):                  "1d 3h 0m 5s",
		units.Duration(45 * time.Second):                              "45s",
		units.USD(0.21770001):                                         "$0.2177",
		units.USD(12.345):                                             "$12.35",
		units.USD(-0.5):                                               "-$0.5000",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
