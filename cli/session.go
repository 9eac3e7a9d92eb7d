package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/jobs/client"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/ui"
)

// controllerAPI is what the commands ask of the controller
// (*client.Client; a fake in tests).
type controllerAPI interface {
	Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error)
	Launch(ctx context.Context, req api.LaunchRequest) (api.LaunchResponse, error)
	Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error)
	Job(ctx context.Context, id int64) (api.Job, error)
	Cancel(ctx context.Context, req api.CancelRequest) (api.CancelResponse, error)
	// Logs streams one task's logs (task non-nil) or every task's.
	Logs(ctx context.Context, id int64, task *int, follow bool, tail int) (io.ReadCloser, error)
	ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error)
	Preempt(ctx context.Context, id int64, req api.PreemptRequest) error
	ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error)
	Pools(ctx context.Context, names []string) ([]api.Pool, error)
	DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error)
	Health(ctx context.Context) (api.Health, error)
	StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error)
}

var _ controllerAPI = (*client.Client)(nil)

// session is what every command that talks to a controller shares: the
// UI, the home directory and configuration, and how to reach the
// controller.
type session struct {
	io    IO
	ui    ui.UI
	paths config.Paths
	cfg   *config.Config
	// connect returns the controller client; tests replace it.
	connect func(ctx context.Context) (controllerAPI, error)
}

// newSession reads the home directory and the configuration.
func newSession(io IO) (*session, error) {
	home, err := config.Home(io.Getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(home, io.Getenv)
	if err != nil {
		return nil, err
	}
	s := &session{io: io, ui: ui.New(io.Stdin, io.Stdout, io.Stderr), paths: config.PathsOf(home), cfg: cfg}
	s.connect = s.dial
	if io.dial != nil {
		s.connect = io.dial
	}
	return s, nil
}

// dial reaches the configured controller. The local one (this home's
// socket, which needs no token) is started in the background when it does
// not answer.
func (s *session) dial(ctx context.Context) (controllerAPI, error) {
	if s.cfg.ControllerSocket() != s.paths.Socket {
		return client.New(s.cfg.Controller.Address, s.cfg.Controller.Token)
	}
	return client.EnsureLocal(ctx, s.paths.Home, func() error {
		s.ui.Info("Starting the local controller (logs: %s)...", s.paths.Log)
		cmd, err := startDetached(s.io, s.paths, nil)
		if err != nil {
			return err
		}
		return cmd.Process.Release()
	})
}

// user is the name jobs are submitted under and filtered by.
func (s *session) user() string {
	if u := s.io.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid-%d", os.Getuid())
}
