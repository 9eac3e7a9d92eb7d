package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// HostEntry is one name a job group's node answers to.
type HostEntry struct {
	IP, Name string
}

// GroupHostFinder is what a PeerFinder also is when it can find a job
// group's hostnames (Nomad: every task group of the job is a member).
type GroupHostFinder interface {
	GroupHosts(ctx context.Context, group string) ([]HostEntry, error)
}

// ParseHosts reads SKYNOMAD_HOSTS: "IP NAME" lines.
func ParseHosts(s string) ([]HostEntry, error) {
	var out []HostEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s: line %q: want \"IP NAME\"", EnvHosts, line)
		}
		out = append(out, HostEntry{IP: f[0], Name: f[1]})
	}
	return out, nil
}

// FormatHosts writes entries as SKYNOMAD_HOSTS and /etc/hosts lines.
func FormatHosts(entries []HostEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.IP + " " + e.Name + "\n")
	}
	return b.String()
}

// groupHosts finds the job group's hostnames (none outside a group).
func (st *run) groupHosts(ctx context.Context) ([]HostEntry, error) {
	if st.Config.Group == "" || len(st.Config.Hosts) > 0 {
		return st.Config.Hosts, nil
	}
	f, ok := st.Peers.(GroupHostFinder)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.discoveryTimeout())
	defer cancel()
	return f.GroupHosts(ctx, st.Config.Group)
}

// hostsFile writes this host's /etc/hosts followed by the group's names
// to a file of its own, which the user's scripts see as /etc/hosts.
func hostsFile(entries []HostEntry) (string, error) {
	base, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	f, err := os.CreateTemp("", "skynomad-hosts-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	content := string(base)
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	content += "# skynomad job group\n" + FormatHosts(entries)
	if _, err := f.WriteString(content); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// namespaceArgs is how a phase's bash is started so that it sees hosts
// as /etc/hosts: in a mount namespace of its own (as root; otherwise in
// a user namespace too, where the script runs as root of that
// namespace). Nil when this host allows neither: the names then do not
// resolve, and the runner says so.
func namespaceArgs(hosts string) []string {
	script := `mount --bind "$0" /etc/hosts && exec /bin/bash "$1"`
	try := [][]string{{"unshare", "--mount", "--propagation", "private"}}
	if os.Geteuid() != 0 {
		try = [][]string{{"unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"}}
	}
	for _, prefix := range try {
		probe := append(append([]string{}, prefix...), "/bin/bash", "-c", `mount --bind "$0" /etc/hosts`, hosts)
		if exec.Command(probe[0], probe[1:]...).Run() == nil {
			return append(append([]string{}, prefix...), "/bin/bash", "-c", script, hosts)
		}
	}
	return nil
}

func (st *run) discoveryTimeout() time.Duration {
	if t := st.Config.DiscoveryTimeout; t > 0 {
		return t
	}
	return DefaultDiscoveryTimeout
}

// prepareHosts finds the job group's hostnames and the way to show them
// to the scripts; a failure to find them fails the node (result of
// phase ph).
func (st *run) prepareHosts(ctx context.Context, ph Phase) *Result {
	entries, err := st.groupHosts(ctx)
	if err != nil {
		res := Result{Phase: ph, ExitCode: 1, FinishedAt: st.Clock().UTC()}
		if ctx.Err() != nil {
			res.ExitCode, res.Terminated = TerminatedExitCode, true
		}
		fmt.Fprintf(st.stderr, "skynomad: cannot find the nodes of job group %s: %v\n", st.Config.Group, err)
		return &res
	}
	if len(entries) == 0 {
		return nil
	}
	file, err := hostsFile(entries)
	if err == nil {
		st.hostsPath = file
		st.namespace = namespaceArgs(file)
	}
	if st.namespace == nil {
		fmt.Fprintf(st.stderr, "skynomad: the hostnames of job group %s cannot be shown in /etc/hosts on this host (no mount namespace: %v); use $%s instead\n",
			st.Config.Group, err, EnvHosts)
	}
	st.Env = setEnv(st.Env, EnvHosts, FormatHosts(entries))
	return nil
}

func (st *run) removeHosts() {
	if st.hostsPath != "" {
		os.Remove(st.hostsPath)
	}
}
