package catalog

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocalFrom(t *testing.T) {
	t.Parallel()
	meminfo := "MemTotal:       16309412 kB\nMemFree:         1234 kB\n"
	got, err := LocalFrom(4, strings.NewReader(meminfo))
	if err != nil {
		t.Fatal(err)
	}
	// 16309412 kB / 1024 / 1024 = 15.55 GiB, rounded to one decimal.
	want := Offering{Cloud: "local", Region: "local", InstanceType: "local", VCPUs: 4, MemoryGB: 15.6}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LocalFrom (-want +got):\n%s", diff)
	}
}

func TestLocalFromErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cpus    int
		meminfo string
		want    string
	}{
		{"no CPUs", 0, "MemTotal: 1 kB\n", "0 CPUs"},
		{"no MemTotal", 2, "MemFree: 1 kB\n", "no MemTotal line"},
		{"bad value", 2, "MemTotal: lots kB\n", `MemTotal "lots" is not a positive number`},
		{"bad unit", 2, "MemTotal: 12 MB\n", `MemTotal unit "MB", want kB`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LocalFrom(tc.cpus, strings.NewReader(tc.meminfo))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LocalFrom error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLocalDescribesThisHost(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo on this system")
	}
	got, err := Local()
	if err != nil {
		t.Fatal(err)
	}
	if got.VCPUs != float64(runtime.NumCPU()) || got.MemoryGB <= 0 || got.OnDemandPrice != 0 || got.GPU != "" {
		t.Errorf("Local() = %+v, want %d vCPUs, some memory, no GPU, price 0", got, runtime.NumCPU())
	}
}
