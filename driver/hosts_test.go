package driver

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHostsReadsWhatFormatHostsWrites(t *testing.T) {
	t.Parallel()
	in := []HostEntry{{IP: "10.0.0.1", Name: "server-0.rl"}, {IP: "10.0.0.2", Name: "trainer-0.rl"}}
	got, err := ParseHosts(FormatHosts(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := ParseHosts("10.0.0.1\n"); err == nil || !strings.Contains(err.Error(), `want "IP NAME"`) {
		t.Errorf("a line without a name: %v, want an error saying the form", err)
	}
}

// A job group's names resolve in the scripts through /etc/hosts, where
// the host lets the runner give them a mount namespace; where it does
// not, the task's log says why and SKYNOMAD_HOSTS still lists them.
func TestJobGroupNamesResolveInTheScripts(t *testing.T) {
	t.Parallel()
	run := `getent hosts trainer-1.rl || echo "unresolved"; printf '%s\n' "$SKYNOMAD_HOSTS"`
	r, out, _ := newTestRunner(t, "", run, func(c *Config) {
		c.Group = "rl"
		c.Hosts = []HostEntry{{IP: "127.0.0.1", Name: "trainer-0.rl"}, {IP: "127.0.0.2", Name: "trainer-1.rl"}}
	})
	if code := r.Run(context.Background(), PhaseAll); code != 0 {
		t.Fatalf("Run = %d, output:\n%s", code, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "127.0.0.2 trainer-1.rl") {
		t.Errorf("SKYNOMAD_HOSTS does not list trainer-1.rl:\n%s", got)
	}
	file, err := hostsFile(r.Config.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)
	if namespaceArgs(file) == nil {
		if !strings.Contains(got, "cannot be shown in /etc/hosts on this host") {
			t.Errorf("no mount namespace here, and the log does not say so:\n%s", got)
		}
		t.Skip("this host gives the runner no mount namespace: the names cannot resolve here")
	}
	if !strings.Contains(got, "127.0.0.2") || strings.Contains(got, "unresolved") {
		t.Errorf("trainer-1.rl did not resolve to 127.0.0.2 in the script:\n%s", got)
	}
	if b, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(b), "trainer-1.rl") {
		t.Errorf("the host's own /etc/hosts was changed")
	}
}
