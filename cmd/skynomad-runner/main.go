// Command skynomad-runner is the task runner the local engine starts: the
// runner of `skynomad driver` without the rest of skynomad, so that it
// starts in a few milliseconds.
package main

import (
	"context"
	"os"
	"runtime"

	"github.com/skynomad/skynomad/driver"
)

func main() {
	// A runner waits on processes and copies their output: one P is
	// plenty, and spares the machine the idle threads' spinning.
	runtime.GOMAXPROCS(1)
	os.Exit(driver.Main(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr, nil))
}
