package target

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/sdk"
	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/engine/nomad/naming"
	"github.com/skynomad/skynomad/internal/realagent"
)

// memCloud is a cloud.Provider in memory: the scaling logic's unit tests
// need no cloud API (cloud/aws and cloud/gcp test theirs on their fakes).
type memCloud struct {
	mu        sync.Mutex
	instances []cloud.Instance
	classOf   map[string]string // instance ID → node class
	refuse    error
	next      int
	now       time.Time
	launches  []cloud.LaunchRequest
}

func (m *memCloud) Launch(_ context.Context, req cloud.LaunchRequest) ([]cloud.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.launches = append(m.launches, req)
	if m.refuse != nil {
		return nil, m.refuse
	}
	var out []cloud.Instance
	for range req.Count {
		m.next++
		in := cloud.Instance{ID: fmt.Sprintf("i-%d", m.next), Zone: req.Zones[0], State: cloud.Pending, Created: m.now}
		m.instances = append(m.instances, in)
		if m.classOf == nil {
			m.classOf = map[string]string{}
		}
		m.classOf[in.ID] = req.Class()
		out = append(out, in)
	}
	return out, nil
}

func (m *memCloud) List(_ context.Context, class string) ([]cloud.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []cloud.Instance
	for _, in := range m.instances {
		if m.classOf[in.ID] == class {
			out = append(out, in)
		}
	}
	return out, nil
}

func (m *memCloud) Terminate(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		for i := range m.instances {
			if m.instances[i].ID == id {
				m.instances[i].State = cloud.Terminating
			}
		}
	}
	return nil
}

func (m *memCloud) live() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, in := range m.instances {
		if in.State != cloud.Terminating {
			ids = append(ids, in.ID)
		}
	}
	return ids
}

// newPlugin is the plugin on the real Nomad agent (NOMAD_ADDR) with an
// in-memory cloud, for an offering no node of the test cluster has.
func newPlugin(t testing.TB, mc *memCloud) (*Plugin, map[string]string, *api.Client) {
	t.Helper()
	addr := realagent.Addr(t, "NOMAD_ADDR", "the target plugin reads nodes and writes Variables; `make test` starts Nomad")
	p := New(hclog.NewNullLogger(), func(context.Context, cloud.Offering, map[string]string) (cloud.Provider, error) {
		return mc, nil
	})
	p.now = func() time.Time { return mc.now }
	if err := p.SetConfig(map[string]string{"nomad_address": addr, KeyNomadServers: "127.0.0.1:4647"}); err != nil {
		t.Fatal(err)
	}
	// A type unique to the test keeps parallel tests' Variables apart.
	it := "t" + fmt.Sprint(time.Now().UnixNano()%1e9) + ".large"
	pol := map[string]string{
		KeyNodeClass: "sky-aws-us-east-1-" + it + "-spot", KeyCloud: "aws", KeyRegion: "us-east-1",
		KeyInstanceType: it, KeyCapacity: "spot", KeyZones: "us-east-1a,us-east-1b",
	}
	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.Variables().Delete(naming.CapacityVariable(pol[KeyNodeClass]), nil) })
	return p, pol, client
}

func TestStatusCountsBootingInstances(t *testing.T) {
	mc := &memCloud{now: time.Now()}
	p, pol, _ := newPlugin(t, mc)

	st, err := p.Status(pol)
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 0 || !st.Ready {
		t.Errorf("empty offering: Status = %+v; want count 0, ready", st)
	}

	if err := p.Scale(sdk.ScalingAction{Count: 2}, pol); err != nil {
		t.Fatal(err)
	}
	st, err = p.Status(pol)
	if err != nil {
		t.Fatal(err)
	}
	// Two instances launched and not joined: counted, and not ready while
	// they boot, so the agent does not launch them again.
	if st.Count != 2 || st.Ready || st.Meta["booting"] != "2" || st.Meta["joined"] != "0" {
		t.Errorf("after scaling to 2: Status = %+v; want count 2, not ready, 2 booting", st)
	}

	// Scaling again to 2 does nothing.
	var noop *sdk.TargetScalingNoOpError
	if err := p.Scale(sdk.ScalingAction{Count: 2}, pol); !errors.As(err, &noop) {
		t.Errorf("Scale to the same count: %v; want a no-op", err)
	}

	// Scaling in terminates instances that never joined first, with no drain.
	if err := p.Scale(sdk.ScalingAction{Count: 1}, pol); err != nil {
		t.Fatal(err)
	}
	if live := mc.live(); len(live) != 1 {
		t.Errorf("after scaling to 1: live %v; want one", live)
	}
}

func TestBootTimeoutTerminatesInstancesThatNeverJoined(t *testing.T) {
	mc := &memCloud{now: time.Now()}
	p, pol, _ := newPlugin(t, mc)
	pol[KeyBootTimeout] = "5m"
	if err := p.Scale(sdk.ScalingAction{Count: 1}, pol); err != nil {
		t.Fatal(err)
	}
	mc.now = mc.now.Add(4 * time.Minute)
	if st, err := p.Status(pol); err != nil || st.Count != 1 {
		t.Fatalf("within the boot timeout: Status = %+v, %v; want the instance counted", st, err)
	}
	mc.now = mc.now.Add(2 * time.Minute)
	st, err := p.Status(pol)
	if err != nil {
		t.Fatal(err)
	}
	if live := mc.live(); len(live) != 0 {
		t.Errorf("past the boot timeout: live %v; want it terminated", live)
	}
	if st.Ready {
		t.Errorf("Status = %+v; want not ready while the broken instance terminates", st)
	}
}

func TestRefusalIsRecordedForTheController(t *testing.T) {
	mc := &memCloud{now: time.Now()}
	p, pol, client := newPlugin(t, mc)
	class := pol[KeyNodeClass]
	mc.refuse = &cloud.CapacityError{Cloud: "aws", Kind: cloud.Stockout, Code: "InsufficientInstanceCapacity",
		Zone: "us-east-1a", Message: "We currently do not have sufficient capacity"}

	if err := p.Scale(sdk.ScalingAction{Count: 1}, pol); err == nil {
		t.Fatal("Scale succeeded though the cloud refused")
	}
	v, _, err := client.Variables().Read(naming.CapacityVariable(class), nil)
	if err != nil {
		t.Fatalf("read %s: %v", naming.CapacityVariable(class), err)
	}
	for k, want := range map[string]string{naming.CapacityCloud: "aws", naming.CapacityKind: "stockout",
		naming.CapacityCode: "InsufficientInstanceCapacity", naming.CapacityZone: "us-east-1a"} {
		if v.Items[k] != want {
			t.Errorf("item %s = %q; want %q", k, v.Items[k], want)
		}
	}
	if at, err := time.Parse(time.RFC3339Nano, v.Items[naming.CapacityTime]); err != nil || !at.Equal(mc.now.UTC()) {
		t.Errorf("time = %q; want %s", v.Items[naming.CapacityTime], mc.now.UTC())
	}

	// Capacity again: the record goes.
	mc.refuse = nil
	if err := p.Scale(sdk.ScalingAction{Count: 1}, pol); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Variables().Read(naming.CapacityVariable(class), nil); !errors.Is(err, api.ErrVariablePathNotFound) {
		t.Errorf("after a launch succeeded, read = %v; want the record gone", err)
	}
}

func TestReadPolicyRefuses(t *testing.T) {
	t.Parallel()
	good := map[string]string{KeyNodeClass: "sky-aws-us-east-1-m6i.large-spot", KeyCloud: "aws", KeyRegion: "us-east-1",
		KeyInstanceType: "m6i.large", KeyCapacity: "spot", KeyNomadServers: "10.0.0.1:4647"}
	tests := []struct {
		name, key, value, want string
	}{
		{"class of another offering", KeyNodeClass, "sky-aws-us-east-1-m6i.large-on-demand", `node_class: "sky-aws-us-east-1-m6i.large-on-demand" is not the offering's class`},
		{"no cloud", KeyCloud, "", "cloud: required"},
		{"bad capacity", KeyCapacity, "reserved", `capacity: "reserved" is neither spot nor on-demand`},
		{"bad boot timeout", KeyBootTimeout, "soon", `boot_timeout: "soon" is not a positive duration`},
		{"bad tags", KeyTags, "team", `tags: "team" is not key=value`},
		{"missing template", KeyBootstrapTemplate, "/nonexistent/bootstrap.tmpl", "bootstrap_template: open /nonexistent/bootstrap.tmpl"},
		{"no servers", KeyNomadServers, "", "nomad_servers: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := merged(good, map[string]string{tt.key: tt.value})
			_, err := readPolicy(m, catalog.Default())
			if err == nil || !contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want %q", err, tt.want)
			}
		})
	}
	p, err := readPolicy(good, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(p.zones, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) || p.tags[cloud.TagNodeClass] != good[KeyNodeClass] || p.tags[cloud.TagManaged] != "true" {
		t.Errorf("policy = zones %v tags %v; want the catalog's zones and the skynomad tags", p.zones, p.tags)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestReadPoolPolicy: a pool's policy keeps nodes of the pool's class,
// launched from its offering: the class is the pool's in the tags List
// selects by and in the bootstrap the nodes join with.
func TestReadPoolPolicy(t *testing.T) {
	t.Parallel()
	pol := map[string]string{KeyNodeClass: "sky-pool-gpus", KeyPool: "gpus", KeyCloud: "aws", KeyRegion: "us-east-1",
		KeyInstanceType: "p4d.24xlarge", KeyCapacity: "spot", KeyNomadServers: "10.0.0.1:4647"}
	p, err := readPolicy(pol, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if p.class != "sky-pool-gpus" || p.tags[cloud.TagNodeClass] != "sky-pool-gpus" || p.tags[cloud.TagOffering] != "aws/us-east-1/p4d.24xlarge/spot" {
		t.Errorf("class %q, tags %v; want the pool's class and the offering", p.class, p.tags)
	}
	if !strings.Contains(p.bootstrap, `node_class = "sky-pool-gpus"`) {
		t.Errorf("the bootstrap does not join the pool's class:\n%s", p.bootstrap)
	}
	for _, tc := range []struct{ key, value, want string }{
		{KeyNodeClass, "sky-aws-us-east-1-p4d.24xlarge-spot", `node_class: "sky-aws-us-east-1-p4d.24xlarge-spot" is not the class "sky-pool-gpus" of pool gpus`},
		{KeyPool, "cpus", `node_class: "sky-pool-gpus" is not the class "sky-pool-cpus" of pool cpus`},
	} {
		if _, err := readPolicy(merged(pol, map[string]string{tc.key: tc.value}), catalog.Default()); err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%s = %s: err = %v; want %q", tc.key, tc.value, err, tc.want)
		}
	}
}

// TestPoolPolicyScalesThePoolsNodes: the plugin launches a pool's nodes
// into its class and counts them there, apart from its offering's.
func TestPoolPolicyScalesThePoolsNodes(t *testing.T) {
	mc := &memCloud{now: time.Now()}
	p, pol, _ := newPlugin(t, mc)
	pool := "p" + fmt.Sprint(time.Now().UnixNano()%1e9)
	offering := merged(pol, nil)
	pol[KeyPool], pol[KeyNodeClass] = pool, naming.PoolNodeClass(pool)

	if err := p.Scale(sdk.ScalingAction{Count: 2}, pol); err != nil {
		t.Fatal(err)
	}
	if len(mc.launches) != 1 || mc.launches[0].NodeClass != naming.PoolNodeClass(pool) || mc.launches[0].Offering.InstanceType != pol[KeyInstanceType] {
		t.Fatalf("launches %+v; want one of the offering into class %s", mc.launches, naming.PoolNodeClass(pool))
	}
	st, err := p.Status(pol)
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 2 {
		t.Errorf("the pool's Status = %+v; want its 2 nodes", st)
	}
	if st, err := p.Status(offering); err != nil || st.Count != 0 {
		t.Errorf("the offering's Status = %+v, %v; want none of the pool's nodes", st, err)
	}
}
