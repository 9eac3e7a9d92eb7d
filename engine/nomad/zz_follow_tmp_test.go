package nomad

import (
	"io"
	"testing"
	"time"

	"github.com/skynomad/skynomad/engine"
)

func TestTmpFollow(t *testing.T) {
	client, rec, eng, ctx := realEngine(t)
	eng.cfg.PollInterval = 5 * time.Second
	a := attempt(realJobID(), 1, "echo preparing", "echo hello-from-skynomad", 1)
	cleanUpReal(t, client, JobID(a.Ref))
	if err := eng.Launch(ctx, a); err != nil {
		t.Fatal(err)
	}
	rec.waitWithin(t, a.Ref, engine.EventPlaced, 2*time.Minute)
	start := time.Now()
	r, err := eng.Logs(ctx, a.Ref, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		rec.waitWithin(t, a.Ref, engine.EventExited, 2*time.Minute)
		t.Logf("exited after %s", time.Since(start))
	}()
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			t.Logf("%s: %q", time.Since(start), buf[:n])
		}
		if err == io.EOF || err != nil {
			t.Logf("%s: end %v", time.Since(start), err)
			break
		}
	}
}
