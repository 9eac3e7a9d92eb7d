package nomad

import (
	"context"
	"os"
	"testing"

	"github.com/skynomad/skynomad/driver"
)

// The test binary doubles as the runner the rendered jobs start on the
// real agent's raw_exec clients: `<test binary> driver --phase <phase>`,
// as `skynomad driver` would run.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "driver" {
		os.Exit(driver.Main(context.Background(), os.Args[2:], os.Environ(), os.Stdout, os.Stderr, nil))
	}
	os.Exit(m.Run())
}
