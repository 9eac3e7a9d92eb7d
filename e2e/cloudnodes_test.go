package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
	"github.com/skynomad/skynomad/internal/hostclean"
)

// cloudNodes "boots" each instance a fake cloud launches as what its
// bootstrap would leave running: a real Nomad client agent, with the
// client config the bootstrap writes (node class, sky.* meta, raw_exec),
// made to run on loopback beside the test cluster, with the task-driver
// plugin of the test cluster's clients.
type cloudNodes struct {
	t         testing.TB
	dir       string
	pluginDir string
	nomad     *nomadapi.Client

	mu     sync.Mutex
	agents map[string]*exec.Cmd // instance ID → its Nomad client
	dirs   map[string]string    // instance ID → its "disk"
}

func newCloudNodes(t testing.TB, nomad *nomadapi.Client) *cloudNodes {
	// Not t.TempDir: the instances' task secrets are mounts, removed by
	// the instance's termination (hostclean).
	dir, err := os.MkdirTemp("", "sky-cloud-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cloudNodes{t: t, dir: dir, pluginDir: driverPluginDir(t), nomad: nomad, agents: map[string]*exec.Cmd{}, dirs: map[string]string{}}
	t.Cleanup(func() {
		c.stopAll()
		_ = hostclean.Dir(dir)
	})
	return c
}

func (c *cloudNodes) hooks() cloudfake.Hooks {
	return cloudfake.Hooks{Boot: c.boot, Terminate: func(m cloudfake.Machine) { c.stop(m.ID) }}
}

// clientHCL is the Nomad client config the bootstrap writes: the heredoc
// it cats into /etc/nomad.d/client.hcl, with the shell's ${ZONE} and
// ${INSTANCE_ID} filled in as the instance would, and one change: the
// skypilot driver runs the tasks as this test's user, not nobody, for the
// tests' tasks write into the tests' private temporary directories.
func clientHCL(m cloudfake.Machine) (string, error) {
	_, rest, ok := strings.Cut(m.Bootstrap, "<<SKYNOMAD_CLIENT_HCL\n")
	if !ok {
		return "", fmt.Errorf("the bootstrap of %s writes no client config", m.ID)
	}
	hcl, _, ok := strings.Cut(rest, "\nSKYNOMAD_CLIENT_HCL\n")
	if !ok {
		return "", fmt.Errorf("the bootstrap of %s does not end its client config", m.ID)
	}
	const driverConfig = "plugin \"skypilot\" {\n  config {\n"
	if !strings.Contains(hcl, driverConfig) {
		return "", fmt.Errorf("the bootstrap of %s configures no skypilot driver", m.ID)
	}
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	hcl = strings.Replace(hcl, driverConfig, driverConfig+fmt.Sprintf("    user = %q\n", u.Username), 1)
	return strings.NewReplacer("${ZONE}", m.Zone, "${INSTANCE_ID}", m.ID).Replace(hcl), nil
}

func (c *cloudNodes) boot(m cloudfake.Machine) {
	hcl, err := clientHCL(m)
	if err != nil {
		c.t.Errorf("boot: %v", err)
		return
	}
	name := "cloud-" + strings.NewReplacer("/", "-", ".", "-").Replace(m.ID)
	dir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Errorf("boot: %v", err)
		return
	}
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.t.Errorf("boot: %v", err)
			return
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		defer l.Close()
	}
	// What this machine differs in from a cloud VM: loopback, a data dir
	// of its own, ports of its own, and room for the tests' tasks.
	local := fmt.Sprintf(`name      = %q
data_dir  = %q
bind_addr = "127.0.0.1"
disable_update_check = true
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
ports {
  http = %d
  rpc  = %d
  serf = %d
}
consul {
  auto_advertise   = false
  client_auto_join = false
}
client {
  network_interface = "lo"
  cpu_total_compute = 64000
}
plugin_dir = %q
`, name, filepath.Join(dir, "data"), ports[0], ports[1], ports[2], c.pluginDir)
	if err := os.WriteFile(filepath.Join(dir, "client.hcl"), []byte(hcl), 0o644); err != nil {
		c.t.Errorf("boot: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "local.hcl"), []byte(local), 0o644); err != nil {
		c.t.Errorf("boot: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.startAgent(m.ID, dir); err != nil {
		c.t.Errorf("boot %s: %v", m.ID, err)
	}
}

// startAgent starts the instance's Nomad client on the configs in dir;
// c.mu is held.
func (c *cloudNodes) startAgent(id, dir string) error {
	log, err := os.OpenFile(filepath.Join(dir, "nomad.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("nomad", "agent", "-config", filepath.Join(dir, "client.hcl"), "-config", filepath.Join(dir, "local.hcl"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.agents[id] = cmd
	c.dirs[id] = dir
	return nil
}

// crash kills the instance's Nomad client with SIGKILL, and nothing else
// (its plugins and tasks live on, as on a VM whose nomad process died),
// then starts it again on the same data dir.
func (c *cloudNodes) crash(id string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd, dir := c.agents[id], c.dirs[id]
	if cmd == nil {
		c.t.Fatalf("no instance %s", id)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := c.startAgent(id, dir); err != nil {
		c.t.Fatalf("restarting the client of %s: %v", id, err)
	}
}

// stop ends the instance's client and all it ran, as a terminated VM's.
func (c *cloudNodes) stop(id string) {
	c.mu.Lock()
	cmd, dir := c.agents[id], c.dirs[id]
	delete(c.agents, id)
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	defer func() {
		if !c.t.Failed() {
			_ = hostclean.Dir(dir)
		}
	}()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// stopAll ends every instance still running when the test ends, and
// removes their nodes from the cluster at once: until Nomad saw them down,
// other tests' jobs could be placed there.
func (c *cloudNodes) stopAll() {
	c.mu.Lock()
	ids := make([]string, 0, len(c.agents))
	for id := range c.agents {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	nodes, _, _ := c.nomad.Nodes().List(&nomadapi.QueryOptions{Filter: `Name matches "^cloud-"`})
	for _, n := range nodes {
		_, _ = c.nomad.Nodes().ToggleEligibility(n.ID, false, nil)
	}
	for _, id := range ids {
		c.stop(id)
	}
	for _, n := range nodes {
		_, _, _ = c.nomad.Nodes().Purge(n.ID, nil)
	}
	if c.t.Failed() {
		matches, _ := filepath.Glob(filepath.Join(c.dir, "*", "nomad.log"))
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				c.t.Logf("%s:\n%s", m, lastLines(string(b), 20))
			}
		}
	}
}

// allocRoot is the allocation root of the instance's Nomad client.
func (c *cloudNodes) allocRoot(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return filepath.Join(c.dirs[id], "data", "alloc")
}

// running lists the instances whose client runs.
func (c *cloudNodes) running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id := range c.agents {
		ids = append(ids, id)
	}
	return ids
}
