package main

import (
	"github.com/skynomad/skynomad/internal/hostclean"

	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/internal/syncbuf"
)

// envRunner makes the test binary run as the program itself, so that a
// test can kill it.
const envRunner = "SKYNOMAD_AGENTS_TEST_RUNNER"

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envGuard) != "": // the guard started by run (os.Executable is this binary)
		os.Exit(guard(os.Getenv(envGuard), os.Stdin, os.Stderr))
	case os.Getenv(envRunner) != "":
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// needAgents skips (fails in CI) unless nomad and consul are on PATH, and
// clears the addresses of agents an outer run started.
func needAgents(t *testing.T) {
	for _, bin := range []string{"nomad", "consul"} {
		if _, err := exec.LookPath(bin); err != nil {
			realagent.Unavailable(t, bin+" not on PATH: `make tools` builds it")
		}
	}
	t.Setenv("NOMAD_ADDR", "")
	t.Setenv("CONSUL_HTTP_ADDR", "")
	t.Setenv(envKeep, "")
	// The clients' task driver, as `make plugin` leaves it (the program's
	// default is relative to the repository's root, not this package).
	if os.Getenv(EnvPlugin) == "" {
		plugin, err := filepath.Abs(filepath.Join("..", "..", "bin", "plugins", driver.PluginName))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(plugin); err != nil {
			realagent.Unavailable(t, "no skypilot task-driver plugin for the clients: `make plugin` builds it")
		}
		t.Setenv(EnvPlugin, plugin)
	}
}

var readyLine = regexp.MustCompile(`at (http://127\.0\.0\.1:\d+), Consul at (127\.0\.0\.1:\d+) ready in [0-9.]+ s \(logs in (\S+)\)`)

// TestRun runs a command against the agents: it sees their addresses, its
// exit code is the program's, and once it ends the agents are gone, their
// ports closed and their temp dir removed.
func TestRun(t *testing.T) {
	needAgents(t)
	out := filepath.Join(t.TempDir(), "env")
	var stderr syncbuf.Buffer
	code := run([]string{"--", "sh", "-c", `printf '%s\n' "$NOMAD_ADDR" "$CONSUL_HTTP_ADDR" >` + out + `; exit 7`}, &stderr)
	if code != 7 {
		t.Errorf("exit code %d; want the command's 7\n%s", code, stderr.String())
	}
	m := readyLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no ready line:\n%s", stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), m[1]+"\n"+m[2]+"\n"; got != want {
		t.Errorf("the command saw NOMAD_ADDR, CONSUL_HTTP_ADDR = %q; want %q", got, want)
	}
	if !strings.Contains(stderr.String(), "last lines of "+filepath.Join(m[3], "nomad-server.log")) {
		t.Errorf("the failed command's run does not print the agents' logs:\n%s", stderr.String())
	}
	assertGone(t, m[3], strings.TrimPrefix(m[1], "http://"), m[2])
}

// TestKilledRunnerLeavesNothing kills the program with SIGKILL while a
// Nomad task runs: the agents, the skypilot plugin's runner, the task, the command and
// what it detached all die, the task's mounts go and the temp dir is
// removed.
func TestKilledRunnerLeavesNothing(t *testing.T) {
	needAgents(t)
	job := filepath.Join(t.TempDir(), "sleep.hcl")
	spec := `job "sleep" {
  type        = "batch"
  datacenters = ["*"]
  group "g" {
    task "t" {
      driver = "skypilot"
      config {
        phase    = "run"
        run_file = "local/run.sh"
      }
      template {
        destination = "local/run.sh"
        data        = "sleep 600"
      }
    }
  }
}
`
	if err := os.WriteFile(job, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The command's sh has marker in its command line ($0); so has a
	// process it starts in a session of its own (as the e2e harness starts
	// detached controllers), with the suffix -detached.
	marker := "skynomad-agents-test-" + filepath.Base(t.TempDir())
	script := "nomad job run -detach " + job + " && setsid sh -c 'sleep 600; true' $0-detached & sleep 600; true"
	runner := exec.Command(self, "--", "sh", "-c", script, marker)
	runner.Env = append(os.Environ(), envRunner+"=1")
	stderr, err := runner.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Process.Kill(); _ = runner.Wait() })
	var m []string
	var seen bytes.Buffer
	for lines := bufio.NewScanner(stderr); m == nil && lines.Scan(); {
		seen.WriteString(lines.Text() + "\n")
		m = readyLine.FindStringSubmatch(lines.Text())
	}
	if m == nil {
		t.Fatalf("no ready line:\n%s", seen.String())
	}
	dir := m[3]
	c, err := api.NewClient(&api.Config{Address: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for running := false; !running; {
		allocs, _, err := c.Jobs().Allocations("sleep", false, (&api.QueryOptions{}).WithContext(ctx))
		if ctx.Err() != nil {
			t.Fatalf("the task is not running after a minute: %v", err)
		}
		running = len(allocs) == 1 && allocs[0].ClientStatus == api.AllocClientStatusRunning
		time.Sleep(100 * time.Millisecond)
	}
	detached := func(p hostclean.Proc) bool { return p.Names(marker + "-detached") }
	for len(hostclean.Processes(detached)) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the command's detached process did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(hostclean.MountsUnder(dir)) == 0 && os.Geteuid() == 0 {
		t.Errorf("no mounts under %s while a task runs as root: the test does not test the unmount", dir)
	}

	if err := runner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = runner.Wait()
	assertGone(t, dir, strings.TrimPrefix(m[1], "http://"), m[2])
	if pids := hostclean.Processes(func(p hostclean.Proc) bool { return p.Names(marker) }); len(pids) > 0 {
		t.Errorf("the command, or what it detached, outlived the killed program: pids %v", pids)
	}
}

// assertGone waits until no process belongs to dir, nothing is mounted
// under it, it does not exist and nothing listens on addrs.
func assertGone(t *testing.T, dir string, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left []string
		if pids := hostclean.Processes(func(p hostclean.Proc) bool { return p.Names(dir) }); len(pids) > 0 {
			left = append(left, "processes naming it")
		}
		if mps := hostclean.MountsUnder(dir); len(mps) > 0 {
			left = append(left, "mounts "+strings.Join(mps, ", "))
		}
		if _, err := os.Stat(dir); err == nil {
			left = append(left, "the dir itself")
		}
		for _, a := range addrs {
			if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				conn.Close()
				left = append(left, "a listener on "+a)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", dir, strings.Join(left, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFreePorts: distinct, and free once returned.
func TestFreePorts(t *testing.T) {
	ports, err := freePorts(12)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d not free: %v", p, err)
			continue
		}
		l.Close()
	}
}
