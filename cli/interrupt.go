package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/interrupt"
)

// newInterruptCommand is `skynomad interrupt-handler`: the spot
// interruption handler run on every spot node. Its flags are its own.
func newInterruptCommand(io IO) *cobra.Command {
	return &cobra.Command{
		Use:                "interrupt-handler [flags]",
		Short:              "Watch this spot node for interruption notices and hand its tasks back to the controller",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if code := interrupt.Main(ctx, args, io.Stderr); code != 0 {
				return withExitCode(code, nil)
			}
			return nil
		},
	}
}
