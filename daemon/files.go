package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/config"
	"github.com/skynomad/skynomad/jobs/store"
	"github.com/skynomad/skynomad/task"
)

// buildFiles makes the job-files bucket of the controller: jobs.bucket,
// else a temporary bucket per job (a directory of the home on the local
// engine; on Nomad a bucket of the first enabled cloud's store), with its
// records in Consul KV when CONSUL_HTTP_ADDR is set, else in st. It also
// returns what of the controller's environment the nodes need to reach
// the stores.
func buildFiles(o Options, p config.Paths, st *store.Store, engineName string, clouds []string) (*bucket.Manager, []task.EnvVar, error) {
	records, inConsul, err := bucket.ConsulRecordsFromEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("daemon: job-files bucket records: %w", err)
	}
	if !inConsul {
		records = st.BucketRecords()
	}
	host, _ := os.Hostname()
	m, err := bucket.NewManager(bucket.Config{
		Bucket:       filesURL(o.Config.Jobs.Bucket),
		Temp:         tempStore(p, engineName, clouds),
		LocalBuckets: filepath.Join(p.Home, "buckets"),
		Records:      records,
		Owner:        host + ":" + p.Home,
		Now:          o.Clock,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("daemon: job-files bucket: %w", err)
	}
	var env []task.EnvVar
	for _, kv := range node.CredentialEnv(os.Environ()) {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, task.EnvVar{Name: k, Value: v})
	}
	return m, env, nil
}

// filesURL is jobs.bucket as a URL (it may be a plain directory).
func filesURL(b string) string {
	if filepath.IsAbs(b) {
		return "file://" + filepath.Clean(b)
	}
	return b
}

// tempStore is where a job's temporary bucket is made: under the home on
// the local engine (every node is this host); on Nomad in S3 when AWS is
// enabled (or no cloud is singled out), else in GCS.
func tempStore(p config.Paths, engineName string, clouds []string) string {
	switch {
	case engineName == "local":
		return "file://" + filepath.Join(p.Home, "files")
	case len(clouds) == 0 || slices.Contains(clouds, "aws"):
		return "s3://"
	case slices.Contains(clouds, "gcp"):
		return "gs://"
	}
	return "file://" + filepath.Join(p.Home, "files")
}
