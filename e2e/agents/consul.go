package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// consulConfig completes `consul agent -dev`: its own HTTP, serf LAN and
// server ports, and every other listener off, so that two runs coexist.
func consulConfig(httpPort, serfLAN, server int) string {
	return fmt.Sprintf(`node_name            = "skynomad-consul"
disable_update_check = true
log_level            = "INFO"

ports {
  http     = %d
  serf_lan = %d
  server   = %d
  serf_wan = -1
  dns      = -1
  grpc     = -1
  grpc_tls = -1
  https    = -1
}
`, httpPort, serfLAN, server)
}

// waitConsul waits until the agent at addr (host:port) knows its leader.
func waitConsul(ctx context.Context, addr string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	state := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status/leader", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err != nil {
			state = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			leader := strings.Trim(strings.TrimSpace(string(b)), `"`)
			if resp.StatusCode == http.StatusOK && leader != "" {
				return nil
			}
			state = fmt.Sprintf("%s: %q", resp.Status, b)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Consul at %s: %s", addr, state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
