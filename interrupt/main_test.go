package interrupt

import (
	"context"
	"github.com/skynomad/skynomad/internal/syncbuf"
	"strings"
	"testing"
	"time"
)

// TestMainCommand runs the command entry as Nomad would start it: Nomad
// address and own alloc ID in the environment, flags on the command line.
// Not parallel: it sets environment variables.
func TestMainCommand(t *testing.T) {
	c := newCluster(t, map[string]string{"platform.gce.machine-type": "n2-standard-4"})
	gce := newFakeGCE("FALSE")
	gceSrv := newLocalServer(t, gce)
	t.Setenv("NOMAD_ADDR", c.client.Address())
	t.Setenv("NOMAD_ALLOC_ID", c.self)

	var stderr syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--gcp-endpoint", gceSrv.URL, "--alloc-root", t.TempDir(), "--stop-margin", "1m"}, &stderr)
	}()
	waitFor(t, "the first long poll", 10*time.Second, func() bool { return gce.Waits() > 0 })
	gce.set("TRUE")
	waitFor(t, "the handler's Nomad requests", 10*time.Second, func() bool { return len(c.log.Writes()) >= len(c.wantWrites()) })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d; want 0 after cancel\n%s", code, stderr.String())
	}
	if got := strings.Join(c.log.Writes(), "\n"); got != strings.Join(c.wantWrites(), "\n") {
		t.Errorf("requests to Nomad:\n%s\nwant:\n%s", got, strings.Join(c.wantWrites(), "\n"))
	}
	log := stderr.String()
	for _, want := range []string{"cloud=gcp", "msg=\"preemption notice at ", ", node spot-1\"", "msg=\"sent SIGTERM\""} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestMainUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"-h"}, 0, "-stop-margin"},
		{[]string{"--cloud", "oci", "--node-id", "n"}, 2, `Error: --cloud "oci": want auto, aws, gcp or azure`},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
	}
	for _, tc := range tests {
		var out syncbuf.Buffer
		if code := Main(context.Background(), tc.args, &out); code != tc.wantCode {
			t.Errorf("Main(%q) = %d; want %d", tc.args, code, tc.wantCode)
		}
		if !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("Main(%q) output lacks %q:\n%s", tc.args, tc.wantOut, out.String())
		}
	}
}
