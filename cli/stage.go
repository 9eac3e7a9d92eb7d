package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/skynomad/skynomad/bucket/stage"
	"github.com/skynomad/skynomad/task"
	"github.com/skynomad/skynomad/ui"
)

// stageFiles sends the job's local files (workdir, local file mounts) to
// a controller on another host, which cannot read them, and points the
// job at its copies (bucket/stage). A controller on this host reads the
// paths themselves.
func stageFiles(ctx context.Context, u ui.UI, c controllerAPI, dag *task.DAG) error {
	h, err := c.Health(ctx)
	if err != nil {
		return err
	}
	here, _ := os.Hostname()
	paths := dag.LocalPaths()
	if h.Host == "" || h.Host == here || len(paths) == 0 {
		return nil
	}
	step := u.Step(fmt.Sprintf("Sending the job's local files to the controller on %s", h.Host))
	staged := map[string]string{}
	for _, p := range paths {
		if _, ok := staged[*p]; !ok {
			to, err := sendPath(ctx, c, *p)
			if err != nil {
				step.Fail("")
				return fmt.Errorf("sending %s to the controller on %s: %w", *p, h.Host, err)
			}
			staged[*p] = to
		}
		*p = staged[*p]
	}
	step.Done(fmt.Sprintf("Sent %d local path(s) to the controller on %s", len(staged), h.Host))
	return nil
}

// sendPath packs p on the fly and sends it; it returns the copy's path on
// the controller.
func sendPath(ctx context.Context, c controllerAPI, p string) (string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(stage.Pack(pw, p)) }()
	res, err := c.StageFiles(ctx, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return res.Path, err
}
