package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/ui"
)

// uploadingController answers Job with the states of an upload in turn.
type uploadingController struct {
	fakeController
	mu     sync.Mutex
	states []api.Job
}

func (u *uploadingController) Job(ctx context.Context, id int64) (api.Job, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	j := u.states[0]
	if len(u.states) > 1 {
		u.states = u.states[1:]
	}
	return j, nil
}

// A followed launch shows its upload: away from a terminal, a line each
// time it crosses a quarter, then the end.
func TestShowUploadDrawsProgress(t *testing.T) {
	t.Parallel()
	at := func(files int, bytes int64) api.Job {
		return api.Job{ID: 1, Status: api.StatusPending,
			Upload: &api.UploadProgress{Files: files, TotalFiles: 100, Bytes: bytes, TotalBytes: 200e6}}
	}
	c := &uploadingController{states: []api.Job{
		{ID: 1, Status: api.StatusPending}, // waiting for a launch slot
		at(5, 10e6), at(10, 20e6), at(55, 120e6), at(100, 200e6),
		{ID: 1, Status: api.StatusStarting},
	}}
	var out, errOut bytes.Buffer
	showUpload(context.Background(), ui.NewPlain(strings.NewReader(""), &out, &errOut), c, 1)
	want := "⚙︎ Uploading the job's files to the job-files bucket...\n" +
		"  [#...................]   5%  5/100 files  10.0/200.0 MB\n" +
		"  [############........]  60%  55/100 files  120.0/200.0 MB\n" +
		"  [####################] 100%  100/100 files  200.0/200.0 MB\n" +
		"✓ Files uploaded to the job-files bucket\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
