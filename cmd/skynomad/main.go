// Command skynomad is the skynomad CLI, controller, runner and spot handler.
package main

import (
	"context"
	"os"

	"github.com/skynomad/skynomad/cli"
)

func main() {
	io := cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}
	os.Exit(cli.Main(context.Background(), io, os.Args[1:]))
}
