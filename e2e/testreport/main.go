// Command testreport runs `go test -json …` and prints what a reader of a CI
// log needs: each package's result line, the whole output of every test
// that failed, every skipped test with its reason, and which tests ran
// against the real agents (they log realagent's marker). It exits with the
// command's status.
//
//	testreport -- go test -json ./...
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testreport -- go test -json PACKAGES...")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	// The child shares our process group: an interrupt reaches it too, and
	// we stay to print what it reported.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)

	r := newReport(os.Stdout)
	r.read(out)
	_, _ = io.Copy(io.Discard, out)
	r.summary()
	if err := cmd.Wait(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() > 0 {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	if r.failed > 0 {
		os.Exit(1)
	}
}
