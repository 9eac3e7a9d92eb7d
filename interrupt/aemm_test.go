package interrupt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skynomad/skynomad/interrupt/imdsmock"
)

// TestAWSSpotNoticeWithEC2MetadataMock runs the handler, set up as
// `skynomad interrupt-handler` is, against AWS's own IMDS simulator
// (IMDSv2 only, a terminate notice 2 s after start) and the Nomad fake.
func TestAWSSpotNoticeWithEC2MetadataMock(t *testing.T) {
	t.Parallel()
	const (
		delay = 2 * time.Second
		poll  = 500 * time.Millisecond
	)
	sim := imdsmock.Start(t, imdsmock.Require(t, os.Getenv("CI") == "true"), "--imdsv2", "spot", "--action", "terminate", "-d", fmt.Sprint(int(delay/time.Second)))
	c := newCluster(t, map[string]string{"platform.aws.instance-type": "m5.large", "unique.platform.aws.instance-id": "i-0a1b2c3d4e5f60718"})
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, c.skyRun, "alloc"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A stop margin longer than AWS's two minutes: stop right after SIGTERM.
	cfg := Config{Cloud: CloudAuto, IMDSEndpoint: sim.URL, PollInterval: poll, AllocRoot: root, AllocID: c.self,
		OnRebalance: RebalanceIgnore, StopMargin: 3 * time.Minute}
	h, err := Setup(context.Background(), cfg, c.client, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.watcher.(*AWSWatcher); !ok {
		t.Fatalf("watcher %T; want the AWS one (node has platform.aws.* attributes)", h.watcher)
	}
	tw := &timedWatcher{w: h.watcher}
	h.watcher = tw

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	waitFor(t, "the handler's Nomad requests", 30*time.Second, func() bool { return len(c.log.Writes()) >= len(c.wantWrites()) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	n, seenAt, ok := tw.First()
	if !ok {
		t.Fatal("no notice seen")
	}
	if n.Cloud != CloudAWS || n.Action != ActionTerminate {
		t.Errorf("notice %v; want an AWS terminate notice", n)
	}
	// The simulator counts whole seconds: the notice appears at the
	// second boundary delay after its start second, which lies between
	// Started and Ready.
	earliest, latest := sim.Started.Truncate(time.Second).Add(delay), sim.Ready.Truncate(time.Second).Add(delay)
	if seenAt.Before(earliest) {
		t.Errorf("notice seen %s before it could appear", earliest.Sub(seenAt))
	}
	// Within one poll interval of appearing (plus a second for the
	// requests themselves on a busy machine).
	if limit := latest.Add(poll + time.Second); seenAt.After(limit) {
		t.Errorf("notice seen %s after it appeared; want within one poll interval (%s)", seenAt.Sub(latest), poll)
	}
	// AWS gives two minutes; the simulator's time is whole seconds.
	if lo, hi := earliest.Add(2*time.Minute-time.Second), seenAt.Add(2*time.Minute+time.Second); n.Deadline.Before(lo) || n.Deadline.After(hi) {
		t.Errorf("deadline %s; want about two minutes after the notice (%s .. %s)", n.Deadline, lo, hi)
	}

	if got := strings.Join(c.log.Writes(), "\n"); got != strings.Join(c.wantWrites(), "\n") {
		t.Errorf("requests to Nomad:\n%s\nwant:\n%s", got, strings.Join(c.wantWrites(), "\n"))
	}
	c.checkPreempted(t, n)
	got, ok, err := ReadDeadlineFile(DeadlineFilePath(root, c.skyRun))
	if err != nil || !ok || !got.Equal(n.Deadline) {
		t.Errorf("deadline file of %s = %v, %v, %v; want %v", c.skyRun, got, ok, err, n.Deadline)
	}

	sigAt, _ := c.log.First("PUT /v1/client/allocation/")
	t.Logf("notice appeared at %s (+%s after the simulator started); seen %s after it could first appear; first SIGTERM %s after it was seen (poll interval %s)",
		earliest.Format("15:04:05.000"), earliest.Sub(sim.Started), seenAt.Sub(earliest), sigAt.Sub(seenAt), poll)
}
