package taskdriver

import (
	"context"
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/skynomad/skynomad/driver"
)

// The test binary doubles as the plugin's runner: the driver under test
// starts it as `<test binary> runner --phase P`, as cmd/skypilot does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(driver.Main(context.Background(), os.Args[2:], os.Environ(), os.Stdout, os.Stderr, nil))
	}
	hclog.SetDefault(hclog.NewNullLogger()) // go-plugin's chatter
	os.Exit(m.Run())
}
