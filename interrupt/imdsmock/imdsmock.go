// Package imdsmock runs AWS's own IMDS simulator, ec2-metadata-mock, on
// loopback for tests of the spot interruption handler (package interrupt
// and the end-to-end suite). It only finds, starts and stops the binary.
package imdsmock

import (
	"bytes"
	"github.com/skynomad/skynomad/internal/syncbuf"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Install is how to install the simulator (`make tools` does).
const Install = "go install github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@v1.13.0"

// Find returns the simulator's path (PATH, $GOBIN, $(go env GOPATH)/bin),
// or "" when it is not installed.
func Find() string {
	if p, err := exec.LookPath("ec2-metadata-mock"); err == nil {
		return p
	}
	dirs := []string{os.Getenv("GOBIN")}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
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
	return ""
}

// Require returns the simulator's path. Without it tb is skipped, or
// failed when mustRun (CI, which installs it).
func Require(tb testing.TB, mustRun bool) string {
	tb.Helper()
	p := Find()
	switch {
	case p != "":
	case mustRun:
		tb.Fatalf("ec2-metadata-mock not found and this run must use it: install it with %s", Install)
	default:
		tb.Skipf("ec2-metadata-mock not found; install it with %s", Install)
	}
	return p
}

// Mock is a running simulator.
type Mock struct {
	URL string
	// Started is just before the process started; Ready is when it first
	// answered. Its -d delay counts from a moment in between.
	Started, Ready time.Time

	cmd  *exec.Cmd
	out  syncbuf.Buffer
	once sync.Once
}

// Start runs bin on a free 127.0.0.1 port with args after the address
// flags, and returns once it hands out IMDSv2 tokens. It stops when tb ends
// (or at Stop), printing its output if tb failed.
func Start(tb testing.TB, bin string, args ...string) *Mock {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	home := tb.TempDir()
	m := &Mock{URL: "http://127.0.0.1:" + port}
	m.cmd = exec.Command(bin, append([]string{"-n", "127.0.0.1", "-p", port}, args...)...)
	m.cmd.Env = append(os.Environ(), "HOME="+home)
	m.cmd.Dir = home
	m.cmd.Stdout, m.cmd.Stderr = &m.out, &m.out
	m.Started = time.Now()
	if err := m.cmd.Start(); err != nil {
		tb.Fatalf("starting ec2-metadata-mock: %v", err)
	}
	tb.Cleanup(func() {
		m.Stop()
		if tb.Failed() {
			tb.Logf("ec2-metadata-mock output:\n%s", m.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for m.Token() == "" {
		if time.Now().After(deadline) {
			tb.Fatalf("ec2-metadata-mock did not answer on %s:\n%s", m.URL, m.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Ready = time.Now()
	return m
}

// Token gets an IMDSv2 session token, or "" if the simulator does not
// answer.
func (m *Mock) Token() string {
	req, _ := http.NewRequest(http.MethodPut, m.URL+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return b.String()
}

// Stop kills the simulator and waits for it.
func (m *Mock) Stop() {
	m.once.Do(func() {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	})
}
