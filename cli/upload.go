package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

// uploadPoll is how often a followed launch asks how its upload is going.
const uploadPoll = 250 * time.Millisecond

// showUpload shows the job's upload to the job-files bucket while it is
// under way: a bar on a terminal, a line per quarter otherwise. It returns
// once the upload is over (or the job left PENDING without one).
func showUpload(ctx context.Context, u ui.UI, c controllerAPI, id int64) {
	var step ui.Step
	quarter := -1
	tick := time.NewTicker(uploadPoll)
	defer tick.Stop()
	for {
		j, err := c.Job(ctx, id)
		switch {
		case err != nil:
			if step != nil {
				step.Fail("")
			}
			return
		case j.Upload != nil:
			if step == nil {
				step = u.Step("Uploading the job's files to the job-files bucket")
			}
			p := *j.Upload
			if q := p.Percent() / 25; u.Interactive() || q != quarter {
				quarter = q
				step.Update(uploadBar(p))
			}
		case step != nil:
			if j.Status.Terminal() && j.Status != api.StatusSucceeded {
				step.Fail("Upload ended: " + j.FailureReason)
			} else {
				step.Done("Files uploaded to the job-files bucket")
			}
			return
		case j.Status != api.StatusPending:
			return
		}
		select {
		case <-ctx.Done():
			if step != nil {
				step.Fail("")
			}
			return
		case <-tick.C:
		}
	}
}

// uploadBar reads "[#######.............]  35%  3500/10000 files  70.0/200.0 MB".
func uploadBar(p api.UploadProgress) string {
	const width = 20
	pct := p.Percent()
	filled := pct * width / 100
	return fmt.Sprintf("[%s%s] %3d%%  %d/%d files  %.1f/%.1f MB",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct,
		p.Files, p.TotalFiles, float64(p.Bytes)/1e6, float64(p.TotalBytes)/1e6)
}
