package interrupt

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// aemmInstall is how CI installs AWS's IMDS simulator.
const aemmInstall = "go install github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@v1.13.0"

// aemmBinary finds ec2-metadata-mock on PATH or in the Go bin directory.
// Without it the test is skipped, except in CI, which must run it.
func aemmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("ec2-metadata-mock"); err == nil {
		return p
	}
	dirs := []string{os.Getenv("GOBIN")}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "ec2-metadata-mock")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("ec2-metadata-mock not found and CI=true: install it with %s", aemmInstall)
	}
	t.Skipf("ec2-metadata-mock not found; install it with %s", aemmInstall)
	return ""
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// aemm is a running ec2-metadata-mock.
type aemm struct {
	URL string
	// Started is just before the process started; Ready is when it first
	// answered. Its -d delay counts from a moment in between.
	Started, Ready time.Time
}

// startAEMM runs ec2-metadata-mock on a free 127.0.0.1 port with args
// after the address flags.
func startAEMM(t *testing.T, args ...string) *aemm {
	t.Helper()
	bin := aemmBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"-n", "127.0.0.1", "-p", port}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Dir = home
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	m := &aemm{URL: "http://127.0.0.1:" + port, Started: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ec2-metadata-mock output:\n%s", out.String())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPut, m.URL+awsTokenPath, nil)
		req.Header.Set(awsTokenTTLHdr, "60")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				m.Ready = time.Now()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ec2-metadata-mock did not answer on %s: %v\n%s", m.URL, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAWSSpotNoticeWithEC2MetadataMock runs the handler, set up as
// `skynomad interrupt-handler` is, against AWS's own IMDS simulator
// (IMDSv2 only, a terminate notice 2 s after start) and the Nomad fake.
func TestAWSSpotNoticeWithEC2MetadataMock(t *testing.T) {
	t.Parallel()
	const (
		delay = 2 * time.Second
		poll  = 500 * time.Millisecond
	)
	sim := startAEMM(t, "--imdsv2", "spot", "--action", "terminate", "-d", fmt.Sprint(int(delay/time.Second)))
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
