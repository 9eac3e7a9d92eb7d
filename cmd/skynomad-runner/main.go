// Command skynomad-runner is the task runner the local engine starts for
// each node of an attempt: `skynomad driver` without the rest of skynomad,
// so that it starts in a few milliseconds.
package main

import (
	"context"
	"os"

	"github.com/skynomad/skynomad/driver"
)

func main() {
	os.Exit(driver.Main(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr, nil))
}
