package driver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// PeersFunc picks how a runner finds its peers from its environment; a
// nil PeerFinder (or a nil PeersFunc) means 127.0.0.1 for every node.
type PeersFunc func(env []string, numNodes int, log *slog.Logger) (PeerFinder, error)

// PeerFinder finds the address of every node of the attempt, in rank order.
type PeerFinder interface {
	NodeIPs(ctx context.Context, numNodes int) ([]string, error)
}

// Main is `skynomad driver`: it parses its flags (--phase setup|run|all),
// reads its configuration from env, runs the phase(s) with output to
// stdout/stderr and returns the exit code. SIGTERM and SIGINT terminate the
// user's processes (see Runner.Run). It expects to own the process: it
// installs signal handlers and starts the user's processes as children.
// Without node addresses in env, peers finds them (nil: every node is
// 127.0.0.1).
func Main(ctx context.Context, args []string, env []string, stdout, stderr io.Writer, peers PeersFunc) int {
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	phase := fs.String("phase", string(PhaseAll), "which phase to run: setup, run or all (setup, then run if setup succeeded)")
	serve := fs.Bool("serve", false, "run the nodes assigned on stdin, one after another (see Serve)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "skynomad driver: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *serve {
		return Serve(ctx, os.Stdin, stdout, stderr, peers)
	}
	ph := Phase(*phase)
	if ph != PhaseSetup && ph != PhaseRun && ph != PhaseAll {
		fmt.Fprintf(stderr, "skynomad driver: --phase %q: want setup, run or all\n", *phase)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return runNode(ctx, ph, env, stdout, stderr, peers)
}

// runNode runs phase of one node, configured by env, until ctx ends.
func runNode(ctx context.Context, ph Phase, env []string, stdout, stderr io.Writer, peers PeersFunc) int {
	cfg, err := ConfigFromEnv(env)
	if err != nil {
		fmt.Fprintf(stderr, "skynomad driver: %v\n", err)
		return 2
	}
	if cfg.LockFD >= 0 {
		// The lock must die with the runner, not with the user's processes.
		syscall.CloseOnExec(cfg.LockFD)
	}

	out := &syncWriter{w: stdout}
	errOut := out
	if !sameWriter(stdout, stderr) {
		errOut = &syncWriter{w: stderr}
	}
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := &Runner{
		Config: cfg,
		Env:    env,
		Stdout: out,
		Stderr: errOut,
		Clock:  time.Now,
		Logger: logger,
	}
	if len(cfg.NodeIPs) == 0 && peers != nil {
		p, err := peers(env, cfg.NumNodes, logger)
		if err != nil {
			fmt.Fprintf(stderr, "skynomad driver: %v\n", err)
			return 2
		}
		r.Peers = p
	}
	return r.Run(ctx, ph)
}
