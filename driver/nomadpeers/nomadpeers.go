// Package nomadpeers finds the addresses of a multi-node task's other
// nodes through the Nomad API: the allocations of the same job, job version
// and task group. Only the runner inside a Nomad allocation needs it; the
// local engine gives its runners their addresses, so the runner binary of
// the local engine does not link the Nomad client.
package nomadpeers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/task"
)

// nomadAllocs is the part of the Nomad API that peer discovery uses.
type nomadAllocs interface {
	allocation(ctx context.Context, id string) (*api.Allocation, error)
	jobAllocations(ctx context.Context, jobID, namespace string) ([]*api.AllocationListStub, error)
	node(ctx context.Context, id string) (*api.Node, error)
}

// NomadPeers discovers peers through the Nomad API: the allocations of the
// same job, job version and task group, one per index 0..n-1, each placed
// on a node (running, or pending while a prestart setup task runs).
type NomadPeers struct {
	api     nomadAllocs
	allocID string
	poll    time.Duration
	log     *slog.Logger
}

// NewNomadPeers returns a PeerFinder for the allocation allocID.
func NewNomadPeers(client *api.Client, allocID string, log *slog.Logger) *NomadPeers {
	return &NomadPeers{api: nomadClient{client}, allocID: allocID, poll: time.Second, log: log}
}

// NodeIPs implements PeerFinder. It polls until every index is placed or
// ctx ends.
func (p *NomadPeers) NodeIPs(ctx context.Context, numNodes int) ([]string, error) {
	var ips []string
	err := p.watch(ctx, fmt.Sprintf("%d nodes", numNodes), func(self *api.Allocation, stubs []*api.AllocationListStub, cache map[string]string) (bool, error) {
		peers := pickPeers(stubs, self.TaskGroup, *self.Job.Version, numNodes)
		if peers == nil {
			return false, nil
		}
		var err error
		ips, err = p.addresses(ctx, peers, cache)
		return true, err
	})
	return ips, err
}

// watch reads the runner's own allocation, then lists its job's
// allocations every poll interval until found says it found what it
// looks for (want, for messages), fails, or ctx ends. cache keeps node
// addresses between rounds.
func (p *NomadPeers) watch(ctx context.Context, want string,
	found func(self *api.Allocation, stubs []*api.AllocationListStub, cache map[string]string) (bool, error)) error {
	self, err := p.api.allocation(ctx, p.allocID)
	if err != nil {
		return fmt.Errorf("read own allocation %s: %w", p.allocID, err)
	}
	if self.Job == nil || self.Job.Version == nil {
		return fmt.Errorf("allocation %s carries no job version", p.allocID)
	}
	cache := map[string]string{}
	for {
		stubs, err := p.api.jobAllocations(ctx, self.JobID, self.Namespace)
		if err != nil {
			return fmt.Errorf("list allocations of job %s: %w", self.JobID, err)
		}
		if ok, err := found(self, stubs, cache); ok || err != nil {
			return err
		}
		p.log.Debug("waiting for peers", "job", self.JobID, "want", want)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s of job %s: %w", want, self.JobID, ctx.Err())
		case <-time.After(p.poll):
		}
	}
}

// pickPeers returns one placed allocation per index 0..n-1 (the newest if
// several), or nil if some index has none yet.
func pickPeers(stubs []*api.AllocationListStub, group string, version uint64, n int) []*api.AllocationListStub {
	byIndex := make([]*api.AllocationListStub, n)
	for _, s := range stubs {
		if s.TaskGroup != group || s.JobVersion != version || s.DesiredStatus != api.AllocDesiredStatusRun {
			continue
		}
		if s.ClientStatus != api.AllocClientStatusRunning && s.ClientStatus != api.AllocClientStatusPending {
			continue
		}
		i, ok := allocIndex(s.Name)
		if !ok || i >= n || s.NodeID == "" {
			continue
		}
		if byIndex[i] == nil || s.CreateIndex > byIndex[i].CreateIndex {
			byIndex[i] = s
		}
	}
	for _, s := range byIndex {
		if s == nil {
			return nil
		}
	}
	return byIndex
}

// allocIndex parses the index from an allocation name "job.group[3]".
func allocIndex(name string) (int, bool) {
	open := strings.LastIndexByte(name, '[')
	if open < 0 || !strings.HasSuffix(name, "]") {
		return 0, false
	}
	i, err := strconv.Atoi(name[open+1 : len(name)-1])
	return i, err == nil && i >= 0
}

// addresses maps each allocation to its node's address: the host of the
// node's HTTP address, else the allocation's network IP.
func (p *NomadPeers) addresses(ctx context.Context, peers []*api.AllocationListStub, cache map[string]string) ([]string, error) {
	ips := make([]string, len(peers))
	for i, s := range peers {
		addr, ok := cache[s.NodeID]
		if !ok {
			n, err := p.api.node(ctx, s.NodeID)
			if err != nil {
				return nil, fmt.Errorf("read node %s: %w", s.NodeID, err)
			}
			if host, _, err := net.SplitHostPort(n.HTTPAddr); err == nil {
				addr = host
			}
			cache[s.NodeID] = addr
		}
		if addr == "" {
			addr = allocIP(s.AllocatedResources)
		}
		if addr == "" {
			return nil, fmt.Errorf("allocation %s (index %d) has no address", s.ID, i)
		}
		ips[i] = addr
	}
	return ips, nil
}

func allocIP(r *api.AllocatedResources) string {
	if r == nil {
		return ""
	}
	for _, n := range r.Shared.Networks {
		if n != nil && n.IP != "" {
			return n.IP
		}
	}
	for _, pm := range r.Shared.Ports {
		if pm.HostIP != "" {
			return pm.HostIP
		}
	}
	return ""
}

// nomadClient adapts *api.Client to nomadAllocs.
type nomadClient struct{ c *api.Client }

func (n nomadClient) allocation(ctx context.Context, id string) (*api.Allocation, error) {
	a, _, err := n.c.Allocations().Info(id, (&api.QueryOptions{}).WithContext(ctx))
	return a, err
}

func (n nomadClient) jobAllocations(ctx context.Context, jobID, namespace string) ([]*api.AllocationListStub, error) {
	q := (&api.QueryOptions{Namespace: namespace}).WithContext(ctx)
	stubs, _, err := n.c.Jobs().Allocations(jobID, true, q)
	return stubs, err
}

func (n nomadClient) node(ctx context.Context, id string) (*api.Node, error) {
	node, _, err := n.c.Nodes().Info(id, (&api.QueryOptions{}).WithContext(ctx))
	return node, err
}

// nomadClientFromEnv builds a Nomad client from the task's environment.
func nomadClientFromEnv(env []string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = driver.LookupEnv(env, driver.EnvNomadAddr)
	if v := driver.LookupEnv(env, driver.EnvNomadToken); v != "" {
		cfg.SecretID = v
	}
	if v := driver.LookupEnv(env, driver.EnvNomadNamespace); v != "" {
		cfg.Namespace = v
	}
	if v := driver.LookupEnv(env, driver.EnvNomadRegion); v != "" {
		cfg.Region = v
	}
	if cfg.Address == "" {
		return nil, errors.New("NOMAD_ADDR is not set")
	}
	return api.NewClient(cfg)
}

// FromEnv is the runner's driver.PeersFunc inside a Nomad allocation:
// discovery through the Nomad API when NOMAD_ALLOC_ID and NOMAD_ADDR are
// set; nil otherwise (the runner then uses 127.0.0.1 for every node).
func FromEnv(env []string, numNodes int, log *slog.Logger) (driver.PeerFinder, error) {
	allocID := driver.LookupEnv(env, driver.EnvNomadAllocID)
	if allocID == "" || driver.LookupEnv(env, driver.EnvNomadAddr) == "" {
		return nil, nil
	}
	c, err := nomadClientFromEnv(env)
	if err != nil {
		return nil, err
	}
	return NewNomadPeers(c, allocID, log), nil
}

// GroupHosts implements driver.GroupHostFinder: every node of every task
// group of the job (one per task of the job group), named
// <task>-<rank>.<group>. It polls until all are placed or ctx ends.
func (p *NomadPeers) GroupHosts(ctx context.Context, group string) ([]driver.HostEntry, error) {
	var out []driver.HostEntry
	err := p.watch(ctx, "the nodes of job group "+group, func(self *api.Allocation, stubs []*api.AllocationListStub, cache map[string]string) (bool, error) {
		out = out[:0]
		for _, tg := range self.Job.TaskGroups {
			name, count := deref(tg.Name), 1
			if tg.Count != nil {
				count = *tg.Count
			}
			taskName := tg.Meta[naming.MetaTaskName]
			if taskName == "" {
				taskName = name
			}
			peers := pickPeers(stubs, name, *self.Job.Version, count)
			if peers == nil {
				return false, nil
			}
			ips, err := p.addresses(ctx, peers, cache)
			if err != nil {
				return false, err
			}
			for rank, ip := range ips {
				out = append(out, driver.HostEntry{IP: ip, Name: task.Hostname(group, taskName, rank)})
			}
		}
		return true, nil
	})
	return out, err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
