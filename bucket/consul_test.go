package bucket_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/recordstest"
	"github.com/skynomad/skynomad/internal/realagent"
)

// consulClient returns a client of the real Consul agent.
func consulClient(t *testing.T) *api.Client {
	t.Helper()
	addr := realagent.Addr(t, "CONSUL_HTTP_ADDR", "bucket records in Consul KV")
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestConsulRecords(t *testing.T) {
	t.Parallel()
	client := consulClient(t)
	recordstest.Run(t, func(t *testing.T) bucket.Records {
		root := "skynomad-test/" + t.Name() + "/" + randomHex(t)
		t.Cleanup(func() {
			if _, err := client.KV().DeleteTree(root+"/", nil); err != nil {
				t.Errorf("delete %s: %v", root, err)
			}
		})
		return bucket.NewConsulRecords(client, root)
	})
}

// TestConsulRecordIsPlainJSON: what `consul kv get skynomad/buckets/<name>`
// shows an operator is the record as plain JSON, and its ModifyIndex is the
// version Put returned.
func TestConsulRecordIsPlainJSON(t *testing.T) {
	t.Parallel()
	client := consulClient(t)
	name := "job-test-" + randomHex(t)
	key := "skynomad/buckets/" + name
	t.Cleanup(func() {
		if _, err := client.KV().Delete(key, nil); err != nil {
			t.Errorf("delete %s: %v", key, err)
		}
	})
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	r := bucket.Record{Name: name, Job: 12, Store: "s3://files", Owner: "ctl-1", State: bucket.StateReady,
		Units: []bucket.Unit{{Key: name + "/workdir", Source: "/src", Dest: "~/sky_workdir", Dir: true,
			Files: 2, Bytes: 10, Hash: "h1"}},
		Files: 2, Bytes: 10, Uploaded: at, Updated: at}
	v, err := bucket.NewConsulRecords(client, "").Put(t.Context(), r, 0)
	if err != nil {
		t.Fatal(err)
	}

	pair, _, err := client.KV().Get(key, nil)
	if err != nil || pair == nil {
		t.Fatalf("consul kv get %s = %v, %v", key, pair, err)
	}
	want := `{"name":"` + name + `","job":12,"store":"s3://files","owner":"ctl-1","state":"ready",` +
		`"units":[{"key":"` + name + `/workdir","source":"/src","dest":"~/sky_workdir","dir":true,"files":2,"bytes":10,"hash":"h1"}],` +
		`"files":2,"bytes":10,"uploaded":"2025-03-04T05:06:07Z","updated":"2025-03-04T05:06:07Z"}`
	if string(pair.Value) != want {
		t.Errorf("consul kv get %s =\n%s\nwant\n%s", key, pair.Value, want)
	}
	if pair.ModifyIndex != v {
		t.Errorf("ModifyIndex %d, Put returned version %d", pair.ModifyIndex, v)
	}
}

// TestConsulRecordsFromEnv: without CONSUL_HTTP_ADDR there are no Consul
// records; with it, they are that Consul's.
func TestConsulRecordsFromEnv(t *testing.T) {
	addr := realagent.Addr(t, "CONSUL_HTTP_ADDR", "bucket records in Consul KV")
	t.Setenv("CONSUL_HTTP_ADDR", "")
	if rs, ok, err := bucket.ConsulRecordsFromEnv(); rs != nil || ok || err != nil {
		t.Errorf("without CONSUL_HTTP_ADDR: %v, %v, %v; want nil, false, nil", rs, ok, err)
	}
	t.Setenv("CONSUL_HTTP_ADDR", addr)
	rs, ok, err := bucket.ConsulRecordsFromEnv()
	if !ok || err != nil {
		t.Fatalf("with CONSUL_HTTP_ADDR=%s: ok %v, %v", addr, ok, err)
	}
	if _, _, found, err := rs.Get(t.Context(), "job-test-missing-"+randomHex(t)); found || err != nil {
		t.Errorf("Get(missing) = found %v, %v", found, err)
	}
}

// TestConsulErrorsSayWhatToCheck: a Consul that refuses the token, or no
// Consul at all, gives errors naming the address and what to check.
func TestConsulErrorsSayWhatToCheck(t *testing.T) {
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("Permission denied: token with AccessorID 'x' lacks permission 'key:read' on \"skynomad/buckets/job-1\""))
	}))
	defer denied.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // nothing listens there any more

	tests := []struct {
		name, addr string
		want       []string
	}{
		{"token denied", denied.URL, []string{strings.TrimPrefix(denied.URL, "http://"), "get skynomad/buckets/job-1",
			"403", "CONSUL_HTTP_TOKEN", `key_prefix "skynomad/buckets/"`}},
		{"no agent", refused.URL, []string{strings.TrimPrefix(refused.URL, "http://"), "get skynomad/buckets/job-1",
			"connection refused", "check CONSUL_HTTP_ADDR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONSUL_HTTP_ADDR", tc.addr)
			t.Setenv("CONSUL_HTTP_TOKEN", "")
			rs, ok, err := bucket.ConsulRecordsFromEnv()
			if !ok || err != nil {
				t.Fatalf("ConsulRecordsFromEnv: ok %v, %v", ok, err)
			}
			_, _, _, err = rs.Get(t.Context(), "job-1")
			if err == nil {
				t.Fatal("Get succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, err := rs.Put(t.Context(), bucket.Record{Name: "job-1"}, 0); err == nil || errors.Is(err, bucket.ErrConflict) {
				t.Errorf("Put = %v, want an error that is not a conflict", err)
			}
		})
	}
}
