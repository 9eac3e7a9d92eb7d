package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/skynomad/skynomad/jobs/server"
)

// dashboardOptions is `skynomad dashboard`.
type dashboardOptions struct {
	io        IO
	s         *session
	port      int
	noBrowser bool
}

func newDashboardCommand(io IO) *cobra.Command {
	o := &dashboardOptions{io: io}
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open the controller's web dashboard",
		Long: `Open the controller's web dashboard: jobs, a job's attempts, timeline and
live logs, pools, capacity and cost.

A controller on TCP serves it itself: this prints (and opens) its address
with the token that signs the browser in. The local controller listens on
a unix socket, which browsers cannot reach: this serves the dashboard on
127.0.0.1 behind a token of its own until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().IntVar(&o.port, "port", 0, "loopback port to serve the local controller's dashboard on (default: any free one)")
	cmd.Flags().BoolVar(&o.noBrowser, "no-browser", false, "print the address only")
	return cmd
}

func (o *dashboardOptions) Complete() error {
	var err error
	o.s, err = newSession(o.io)
	return err
}

func (o *dashboardOptions) Run(ctx context.Context) error {
	cfg := o.s.cfg
	if cfg.ControllerSocket() == "" {
		u := strings.TrimSuffix(cfg.Controller.Address, "/") + "/"
		if cfg.Controller.Token != "" {
			u += "?token=" + cfg.Controller.Token
		}
		o.open(u)
		return nil
	}
	api, err := o.s.connect(ctx)
	if err != nil {
		return err
	}
	proxied, ok := api.(interface{ Proxy() http.Handler })
	if !ok {
		return errors.New("this controller connection cannot be proxied")
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.port))
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	token, err := sessionToken()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: server.Gate(token, proxied.Proxy()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	o.open(fmt.Sprintf("http://%s/?token=%s", ln.Addr(), token))
	o.s.ui.Info("Serving the local controller's dashboard until Ctrl-C.")
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// open prints the address and, unless told not to, opens a browser on it.
func (o *dashboardOptions) open(url string) {
	o.s.ui.Output("Dashboard: %s", url)
	if o.noBrowser {
		return
	}
	for _, name := range []string{"xdg-open", "open"} {
		if path, err := exec.LookPath(name); err == nil && (name == "open" || o.io.Getenv("DISPLAY") != "" || o.io.Getenv("WAYLAND_DISPLAY") != "") {
			if err := exec.Command(path, url).Start(); err == nil {
				return
			}
		}
	}
}

func sessionToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dashboard: token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
