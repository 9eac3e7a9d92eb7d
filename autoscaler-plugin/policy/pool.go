package policy

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// Pool is what a worker pool's policy needs: its name, how many workers it
// keeps and the offering they run on.
type Pool struct {
	Name     string
	Workers  int
	Offering cloud.Offering
}

// NodeClass is the pool's node class, sky-pool-<name>: its nodes run one
// worker each (the worker port makes it so) and nothing but its jobs.
func (p Pool) NodeClass() string { return naming.PoolNodeClass(p.Name) }

// PoolFile is the file of pool's policy: sky-pool-<name>.hcl.
func PoolFile(pool string) string { return naming.PoolNodeClass(pool) + ".hcl" }

// poolName is what a pool's name may hold here: it names a file, an HCL
// string and a node class the bootstrap writes into a shell script.
var poolName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// poolFilePattern matches every pool's policy file in a directory.
var poolFilePattern = PoolFile("*")

// RenderPool is the policy of one pool: exactly Workers nodes of the
// pool's node class (fixed-value, min = max = Workers), launched from the
// pool's offering by skynomad-target. The policy's name holds the size and
// the offering, so that a changed pool is a new policy to the agent, which
// applies it on a reload (it does not apply an edited policy of the same
// file and name). Scale-in drains the least busy node: an idle worker's.
func RenderPool(p Pool, o Options) string {
	class, off := p.NodeClass(), p.Offering
	return fmt.Sprintf(`# Written by skynomad autoscaler policies: the nodes of worker pool %s,
# %d of %s %s %s (%s), one worker each.
# After the pool's size or resources change, write the policies again and
# reload the agent (SIGHUP): the policy's name changes with them.
scaling %q {
  enabled = true
  type    = "cluster"
  min     = %d
  max     = %d

  policy {
    evaluation_interval = %q
    cooldown            = %q

    check "fixed" {
      strategy "fixed-value" {
        value = %d
      }
    }

    target "skynomad" {
      %-22s = %q
      %-22s = %q
      %-22s = %q
      %-22s = %q
      %-22s = %q
      %-22s = %q
      node_selector_strategy = "least_busy"
      node_drain_deadline    = %q
      node_purge             = "true"
    }
  }
}
`, p.Name, p.Workers, off.Cloud, off.Region, off.InstanceType, off.Capacity(),
		fmt.Sprintf("%s-%d-%s", class, p.Workers, off.NodeClass()), p.Workers, p.Workers,
		o.EvaluationInterval.String(), o.Cooldown.String(), p.Workers,
		KeyNodeClass, class, KeyPool, p.Name, KeyCloud, off.Cloud, KeyRegion, off.Region,
		KeyInstanceType, off.InstanceType, KeyCapacity, off.Capacity(),
		o.NodeDrainDeadline.String())
}

// WritePools writes one PoolFile per pool into dir. A pool file already
// in dir whose pool is not among pools (taken down, or gone from the
// controller) is rewritten to keep zero nodes: a removed policy would
// leave its nodes running. It returns the files written and the pools so
// retired; delete a retired pool's file once its nodes are gone.
func WritePools(dir string, pools []Pool, o Options) (files, retired []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	keep := map[string]bool{}
	for _, p := range pools {
		if !poolName.MatchString(p.Name) {
			return files, retired, fmt.Errorf("pool %q: not a name a policy file can carry", p.Name)
		}
		path := filepath.Join(dir, PoolFile(p.Name))
		if err := os.WriteFile(path, []byte(RenderPool(p, o)), 0o644); err != nil {
			return files, retired, err
		}
		files = append(files, path)
		keep[path] = true
	}
	old, err := filepath.Glob(filepath.Join(dir, poolFilePattern))
	if err != nil {
		return files, retired, err
	}
	for _, path := range old {
		if keep[path] {
			continue
		}
		p, err := ReadPool(path)
		if err != nil {
			return files, retired, err
		}
		if p.Workers != 0 {
			p.Workers = 0
			if err := os.WriteFile(path, []byte(RenderPool(p, o)), 0o644); err != nil {
				return files, retired, err
			}
			files = append(files, path)
		}
		retired = append(retired, p.Name)
	}
	slices.Sort(retired)
	return files, retired, nil
}

// ReadPool reads back a pool's policy file that RenderPool wrote: the pool,
// its size and offering, from the policy's min and its target block.
func ReadPool(path string) (Pool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Pool{}, err
	}
	fail := func(format string, args ...any) (Pool, error) {
		return Pool{}, fmt.Errorf("%s: not a pool policy skynomad wrote: %s", path, fmt.Sprintf(format, args...))
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return fail("%v", diags)
	}
	scaling := only(f.Body.(*hclsyntax.Body), "scaling")
	target := only(only(scaling, "policy"), "target")
	if scaling == nil || target == nil {
		return fail("no scaling { policy { target } } block")
	}
	var errs []error
	value := func(b *hclsyntax.Body, key string, typ cty.Type) cty.Value {
		a := b.Attributes[key]
		if a == nil {
			errs = append(errs, fmt.Errorf("no %s", key))
			return cty.NullVal(typ)
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.IsNull() || !v.IsKnown() || !v.Type().Equals(typ) {
			errs = append(errs, fmt.Errorf("%s is not a %s", key, typ.FriendlyName()))
			return cty.NullVal(typ)
		}
		return v
	}
	text := func(b *hclsyntax.Body, key string) string {
		if v := value(b, key, cty.String); !v.IsNull() {
			return v.AsString()
		}
		return ""
	}
	p := Pool{Name: text(target, KeyPool), Offering: cloud.Offering{
		Cloud: text(target, KeyCloud), Region: text(target, KeyRegion), InstanceType: text(target, KeyInstanceType),
		Spot: text(target, KeyCapacity) == "spot",
	}}
	if v := value(scaling, "min", cty.Number); !v.IsNull() {
		n, acc := v.AsBigFloat().Int64()
		if acc != big.Exact || n < 0 {
			errs = append(errs, fmt.Errorf("min is not a count"))
		}
		p.Workers = int(n)
	}
	if err := errors.Join(errs...); err != nil {
		return fail("%v", err)
	}
	if PoolFile(p.Name) != filepath.Base(path) {
		return fail("it is the policy of pool %q", p.Name)
	}
	return p, nil
}

// only is b's one block of type typ, or nil.
func only(b *hclsyntax.Body, typ string) *hclsyntax.Body {
	if b == nil {
		return nil
	}
	var found *hclsyntax.Body
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			if found != nil {
				return nil
			}
			found = blk.Body
		}
	}
	return found
}
