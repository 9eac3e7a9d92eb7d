package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/daemon"
	"github.com/skynomad/skynomad/jobs/client"
	"github.com/skynomad/skynomad/ui"
)

// startTimeout bounds how long `controller --detach` waits for the new
// controller to answer.
const startTimeout = 30 * time.Second

// controllerOptions is `skynomad controller`.
type controllerOptions struct {
	io        IO
	ui        ui.UI
	paths     config.Paths
	cfg       *config.Config
	engine    string
	listen    string
	detach    bool
	noToken   bool
	logFormat string
}

func newControllerCommand(io IO) *cobra.Command {
	o := &controllerOptions{io: io}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the managed-jobs controller",
		Long: `Run the managed-jobs controller: the daemon that keeps the jobs' state in
<home>/state.db, places their attempts on the engine (this host, or Nomad)
and serves the CLI's API.

In the foreground by default (logs on stderr; SIGTERM or Ctrl-C stop it,
leaving running tasks alone: a restarted controller re-attaches to them).
--detach starts it in the background with its logs in <home>/controller.log;
the CLI does that by itself when the local controller is not running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.engine, "engine", "", "what runs the tasks: local or nomad (default: engine in config.yaml, else local)")
	f.StringVar(&o.listen, "listen", "", "unix socket path or host:port to serve on (default <home>/controller.sock)")
	f.BoolVar(&o.detach, "detach", false, "start in the background and return once it answers")
	f.BoolVar(&o.noToken, "insecure-no-token", false, "serve TCP without a token (refused unless --listen is a loopback address)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

func (o *controllerOptions) Complete(cmd *cobra.Command) error {
	home, err := config.Home(o.io.Getenv)
	if err != nil {
		return err
	}
	if o.cfg, err = config.Load(home, o.io.Getenv); err != nil {
		return err
	}
	o.paths = config.PathsOf(home)
	o.ui = ui.New(o.io.Stdin, o.io.Stdout, o.io.Stderr)
	if o.engine == "" {
		o.engine = o.cfg.Engine
	}
	if o.listen == "" {
		o.listen = o.paths.Socket
		if sock := o.cfg.ControllerSocket(); sock != "" {
			o.listen = sock
		}
	}
	return nil
}

func (o *controllerOptions) Validate() error {
	if o.engine != "local" && o.engine != "nomad" {
		return fmt.Errorf("--engine %q: want local or nomad", o.engine)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	return nil
}

func (o *controllerOptions) Run(ctx context.Context) error {
	if o.detach {
		return o.runDetached(ctx)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var h slog.Handler = slog.NewTextHandler(o.io.Stderr, nil)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(o.io.Stderr, nil)
	}
	return daemon.Run(ctx, daemon.Options{
		Home:    o.paths.Home,
		Config:  o.cfg,
		Engine:  o.engine,
		Listen:  o.listen,
		Token:   o.cfg.Controller.Token,
		NoToken: o.noToken,
		TokenCreated: func(path, token string) {
			o.ui.Warn("Generated the controller's API token, kept in %s (mode 0600; the CLI on this host reads it).\n"+
				"Give it to other clients as SKYNOMAD_CONTROLLER_TOKEN or controller.token; it is not shown again:\n  %s", path, token)
		},
		Logger:  slog.New(h),
		Version: version(),
	})
}

// runDetached starts the controller in the background and waits until it
// answers, or says why it stopped.
func (o *controllerOptions) runDetached(ctx context.Context) error {
	addr := o.listen
	if strings.HasPrefix(addr, "/") {
		addr = "unix://" + addr
	} else if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	c, err := client.New(addr, o.cfg.Controller.Token)
	if err != nil {
		return err
	}
	if h, err := c.Health(ctx); err == nil {
		o.ui.Output("A controller already answers on %s (%s engine).", o.listen, h.Engine)
		return nil
	}
	args := []string{"--engine", o.engine, "--listen", o.listen, "--log-format", o.logFormat}
	if o.noToken {
		args = append(args, "--insecure-no-token")
	}
	cmd, err := startDetached(o.io, o.paths, args)
	if err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	step := o.ui.Step("Starting the controller")
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := c.Health(ctx); err == nil {
			step.Done(fmt.Sprintf("Controller started (pid %d, %s engine); logs: %s", cmd.Process.Pid, o.engine, o.paths.Log))
			return nil
		}
		select {
		case err := <-exited:
			step.Fail("The controller stopped")
			return fmt.Errorf("the controller exited (%v); the end of %s:\n%s", err, o.paths.Log, logTail(o.paths.Log, 5))
		case <-ctx.Done():
			step.Fail("The controller did not answer")
			return fmt.Errorf("the controller did not answer on %s within %s; see %s", o.listen, startTimeout, o.paths.Log)
		case <-t.C:
		}
	}
}

// startDetached runs `skynomad controller ARGS` in a new session, its
// output appended to <home>/controller.log, and returns it started. It
// outlives the command that started it.
func startDetached(io IO, p config.Paths, args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the skynomad binary: %w", err)
	}
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", p.Home, err)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the controller log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, append([]string{"controller"}, args...)...)
	env := os.Environ()
	if io.Environ != nil {
		env = io.Environ()
	}
	cmd.Env = append(env, config.EnvHome+"="+p.Home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = p.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the controller: %w", err)
	}
	return cmd, nil
}

// logTail returns the last n lines of a log file, indented.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "  " + strings.Join(lines, "\n  ")
}

// version is the module version the binary was built from ("(devel)"
// for a build from a work tree).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "unknown"
}
