package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/nomadpeers"
)

// newDriverCommand is `skynomad driver --phase setup|run|all`: the task
// runner inside each Nomad allocation (it finds its peers through Nomad).
// The local engine runs the lighter skynomad-runner when it is installed.
// Its flags are its own.
func newDriverCommand(io IO) *cobra.Command {
	return &cobra.Command{
		Use:                "driver --phase setup|run|all",
		Short:              "Run a task's setup and run phases (used inside each node; not for people)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			env := os.Environ()
			if io.Environ != nil {
				env = io.Environ()
			}
			if code := driver.Main(cmd.Context(), args, env, io.Stdout, io.Stderr, nomadpeers.FromEnv); code != 0 {
				return withExitCode(code, nil)
			}
			return nil
		},
	}
}
