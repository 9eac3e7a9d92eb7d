package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/consul/api"
)

// DefaultConsulRoot is the KV prefix of the records: one key per record,
// DefaultConsulRoot/<Record.Name>, holding the record as JSON.
const DefaultConsulRoot = "skynomad/buckets"

// consulRecords keeps records in Consul KV. A record's version is its
// key's ModifyIndex.
type consulRecords struct {
	kv   *api.KV
	txn  *api.Txn
	addr string // for errors; "" when not known
	root string // without a trailing slash
}

var _ Records = (*consulRecords)(nil)

// NewConsulRecords returns the records kept in Consul KV under root
// (DefaultConsulRoot if ""), read and written through client.
func NewConsulRecords(client *api.Client, root string) Records {
	return newConsulRecords(client, "", root)
}

// ConsulRecordsFromEnv returns the records kept in the Consul that the
// environment names (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL,
// CONSUL_CACERT, ... as the consul CLI reads them), under
// DefaultConsulRoot; ok is false when CONSUL_HTTP_ADDR is not set.
func ConsulRecordsFromEnv() (r Records, ok bool, err error) {
	if os.Getenv(api.HTTPAddrEnvName) == "" {
		return nil, false, nil
	}
	cfg := api.DefaultConfig()
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("bucket records: Consul at %s: %w; check %s and the files CONSUL_CACERT, CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY name",
			cfg.Address, err, api.HTTPAddrEnvName)
	}
	return newConsulRecords(client, cfg.Address, ""), true, nil
}

func newConsulRecords(client *api.Client, addr, root string) *consulRecords {
	root = strings.TrimSuffix(root, "/")
	if root == "" {
		root = DefaultConsulRoot
	}
	return &consulRecords{kv: client.KV(), txn: client.Txn(), addr: addr, root: root}
}

func (c *consulRecords) key(name string) string { return c.root + "/" + name }

// Get implements Records.
func (c *consulRecords) Get(ctx context.Context, name string) (Record, uint64, bool, error) {
	key := c.key(name)
	pair, _, err := c.kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return Record{}, 0, false, c.fail("get", key, err)
	}
	if pair == nil {
		return Record{}, 0, false, nil
	}
	r, err := c.decode(pair)
	if err != nil {
		return Record{}, 0, false, err
	}
	return r, pair.ModifyIndex, true, nil
}

// Put implements Records: one transaction with a check-and-set, so the
// new ModifyIndex comes back with the write.
func (c *consulRecords) Put(ctx context.Context, r Record, version uint64) (uint64, error) {
	if r.Name == "" {
		return 0, errors.New("bucket records: a record needs a name")
	}
	key := c.key(r.Name)
	value, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("bucket records: %s: %w", key, err)
	}
	ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: key, Value: value, Index: version}}}
	ok, resp, _, err := c.txn.Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, c.fail("put", key, err)
	}
	if !ok {
		// Rolled back: a stale index, or an error of the operation itself
		// (an ACL denial is one).
		var whats []string
		for _, e := range resp.Errors {
			if strings.Contains(e.What, "index is stale") {
				return 0, fmt.Errorf("%s: %w", key, ErrConflict)
			}
			whats = append(whats, e.What)
		}
		return 0, c.fail("put", key, fmt.Errorf("transaction rolled back: %s", strings.Join(whats, "; ")))
	}
	if len(resp.Results) != 1 || resp.Results[0].KV == nil {
		return 0, c.fail("put", key, fmt.Errorf("transaction returned %d results, want the key's", len(resp.Results)))
	}
	return resp.Results[0].KV.ModifyIndex, nil
}

// List implements Records: Consul returns keys in byte order, which is
// name order under one prefix.
func (c *consulRecords) List(ctx context.Context) ([]Versioned, error) {
	pairs, _, err := c.kv.List(c.root+"/", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, c.fail("list", c.root+"/", err)
	}
	out := make([]Versioned, 0, len(pairs))
	for _, p := range pairs {
		if p.Key == c.root+"/" { // a folder made in the UI
			continue
		}
		r, err := c.decode(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Versioned{Record: r, Version: p.ModifyIndex})
	}
	return out, nil
}

// decode reads a record; its name is its key's.
func (c *consulRecords) decode(p *api.KVPair) (Record, error) {
	var r Record
	if err := json.Unmarshal(p.Value, &r); err != nil {
		return Record{}, fmt.Errorf("bucket records: %s: %s: not a record: %w", c.where(), p.Key, err)
	}
	r.Name = strings.TrimPrefix(p.Key, c.root+"/")
	return r, nil
}

func (c *consulRecords) where() string {
	if c.addr == "" {
		return "Consul"
	}
	return "Consul at " + c.addr
}

// fail says which Consul failed on which key, and what to check.
func (c *consulRecords) fail(op, key string, err error) error {
	var status api.StatusError
	var uerr *url.Error
	check := ""
	switch {
	case errors.As(err, &status) && status.Code == http.StatusForbidden,
		strings.Contains(err.Error(), "Permission denied"), strings.Contains(err.Error(), "ACL not found"):
		check = fmt.Sprintf("check CONSUL_HTTP_TOKEN: its ACL policy needs key_prefix %q { policy = \"write\" }", c.root+"/")
	case errors.As(err, &uerr):
		check = "check CONSUL_HTTP_ADDR and that a Consul agent answers there; for https, CONSUL_HTTP_SSL and CONSUL_CACERT"
	}
	if check == "" {
		return fmt.Errorf("bucket records: %s: %s %s: %w", c.where(), op, key, err)
	}
	return fmt.Errorf("bucket records: %s: %s %s: %w; %s", c.where(), op, key, err, check)
}
