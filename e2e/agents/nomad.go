package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
)

// nomadPorts are one Nomad agent's ports.
type nomadPorts struct{ http, rpc, serf int }

// nomadCommon is what every agent of the cluster shares: loopback only
// (advertising 127.0.0.1 is needed outside -dev when binding to it), and
// no calls home.
func nomadCommon(dir, name string, p nomadPorts, consulAddr string) string {
	consul := `consul {
  auto_advertise   = false
  server_auto_join = false
  client_auto_join = false
}
`
	if consulAddr != "" {
		consul = fmt.Sprintf("consul {\n  address          = %q\n  auto_advertise   = false\n  server_auto_join = false\n  client_auto_join = false\n}\n", consulAddr)
	}
	return fmt.Sprintf(`name                 = %q
data_dir             = %q
bind_addr            = "127.0.0.1"
disable_update_check = true
log_level            = "INFO"

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

%s`, name, filepath.Join(dir, name), p.http, p.rpc, p.serf, consul)
}

// nomadServerConfig is a single-server cluster that runs no tasks itself.
// A client that misses heartbeats is down after about 10 s, as in the
// recorded fixtures.
func nomadServerConfig(dir string, p nomadPorts, consulAddr string) string {
	return nomadCommon(dir, "nomad-server", p, consulAddr) + `
server {
  enabled           = true
  bootstrap_expect  = 1
  heartbeat_grace   = "5s"
  min_heartbeat_ttl = "5s"
}

client {
  enabled = false
}
`
}

// nomadClientConfig is a client agent that runs tasks with the skypilot
// task driver from pluginDir — the only driver loaded; raw_exec is off, as
// on a careful operator's cluster — on the loopback interface. The tasks
// run as the agent's own user (the plugin's default as root is nobody,
// which could not write the tests' temporary files), and no cloud metadata
// is asked for. It claims far more CPU than the host has: each skynomad
// task asks for a nominal 1,000 MHz, and the tests' tasks, which mostly
// sleep, must not queue for room (a 2-core host fingerprints about 4,200
// MHz: four tasks per client).
func nomadClientConfig(dir, name string, p nomadPorts, serverRPC int, consulAddr, pluginDir, user string) string {
	return nomadCommon(dir, name, p, consulAddr) + fmt.Sprintf(`
plugin_dir = %q

server {
  enabled = false
}

client {
  enabled           = true
  servers           = ["127.0.0.1:%d"]
  network_interface = "lo"
  cpu_total_compute = 64000
  options = {
    "driver.allowlist" = "skypilot"
  }
}

plugin "skypilot" {
  config {
    user       = %q
    metadata   = "none"
    nomad_addr = "http://127.0.0.1:%d"
  }
}
`, pluginDir, serverRPC, user, p.http)
}

// waitNomad waits until the server at addr has a leader and clients
// ready, eligible nodes with a healthy skypilot driver, and returns the
// server's version.
func waitNomad(ctx context.Context, addr string, clients int) (string, error) {
	c, err := api.NewClient(&api.Config{Address: addr, Namespace: "default", Region: "global"})
	if err != nil {
		return "", err
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	state := "no answer yet"
	for {
		if leader, err := c.Status().Leader(); err != nil {
			state = err.Error()
		} else if leader == "" {
			state = "no leader yet"
		} else if nodes, _, err := c.Nodes().List(q); err != nil {
			state = err.Error()
		} else {
			ready := 0
			for _, n := range nodes {
				d := n.Drivers[driver.PluginName]
				if n.Status == api.NodeStatusReady && n.SchedulingEligibility == api.NodeSchedulingEligible &&
					d != nil && d.Detected && d.Healthy {
					ready++
				}
			}
			if ready >= clients {
				self, err := c.Agent().Self()
				if err != nil {
					return "", err
				}
				return "v" + self.Member.Tags["build"], nil
			}
			state = fmt.Sprintf("%d of %d clients ready with the skypilot driver", ready, clients)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("Nomad at %s: %s", addr, state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
