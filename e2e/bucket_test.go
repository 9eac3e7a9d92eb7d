package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	consul "github.com/hashicorp/consul/api"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/internal/s3fake"
	"github.com/skynomad/skynomad/jobs/api"
)

// The job-files bucket end to end, on both engines: an S3 store
// (gofakes3, in this process, on loopback) holds the job-files bucket
// (jobs.bucket) and the checkpoint bucket; the records are in the real
// Consul agent `make test` starts.

// filesBucket is the job-files bucket of these tests (jobs.bucket).
const (
	filesBucket = "skynomad-e2e-files"
	filesPrefix = "jobs"
)

// s3Server is an S3 store on loopback.
type s3Server struct {
	*s3fake.Server
	// putDelay slows every PUT (an upload a test wants to catch midway).
	putDelay atomic.Int64
}

func newS3Server(t *testing.T, buckets ...string) *s3Server {
	t.Helper()
	s := &s3Server{}
	s.Server = s3fake.New(t, s3fake.Options{Buckets: buckets, Before: func(r *http.Request) {
		if d := s.putDelay.Load(); d > 0 && r.Method == http.MethodPut {
			time.Sleep(time.Duration(d))
		}
	}})
	return s
}

// env is what the controller needs to reach the store.
func (s *s3Server) env() []string { return s.Env() }

// keys lists the keys under prefix in b.
func (s *s3Server) keys(t *testing.T, b, prefix string) []string {
	t.Helper()
	out, err := s.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("list s3://%s/%s: %v", b, prefix, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// get reads an object; "" if it is not there.
func (s *s3Server) get(b, key string) string {
	out, err := s.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		return ""
	}
	defer out.Body.Close()
	data, _ := io.ReadAll(out.Body)
	return string(data)
}

// objectStore is an object store on loopback the tests' controllers use.
type objectStore interface {
	// scheme is the URL scheme (s3, gs); store the file_mounts store.
	scheme() string
	store() string
	// env is what the controller needs to reach it.
	env() []string
	keys(t *testing.T, bucket, prefix string) []string
	get(bucket, key string) string
}

func (s *s3Server) scheme() string { return "s3" }
func (s *s3Server) store() string  { return "s3" }

// bucketHarness is a user whose controller keeps job files in s.
func bucketHarness(t *testing.T, tg target, s objectStore) *harness {
	t.Helper()
	realagent.Addr(t, "CONSUL_HTTP_ADDR", "the job-files bucket's records in Consul KV")
	return newHarnessWith(t, tg, harnessOptions{
		env:    s.env(),
		config: fmt.Sprintf("jobs:\n  bucket: %s://%s/%s\n", s.scheme(), filesBucket, filesPrefix),
	})
}

// bucketScenario runs f on each target with its own store.
func bucketScenario(t *testing.T, newStore func(t *testing.T) objectStore, f func(t *testing.T, h *harness, s objectStore)) {
	t.Helper()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			if tg.needs != "" {
				realagent.Addr(t, "NOMAD_ADDR", tg.needs)
			}
			if _, err := exec.LookPath("rclone"); err != nil {
				realagent.Unavailable(t, "bucket mounts need rclone (apt-get install -y rclone fuse3)")
			}
			t.Parallel()
			s := newStore(t)
			f(t, bucketHarness(t, tg, s), s)
		})
	}
}

func s3Store(t *testing.T) objectStore { return newS3Server(t, filesBucket) }

// records are the job-files records of this harness's controller in
// Consul (skynomad/buckets/), by name.
func (h *harness) records(t *testing.T) map[string]bucket.Record {
	t.Helper()
	c, err := consul.NewClient(consul.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	pairs, _, err := c.KV().List("skynomad/buckets/", nil)
	if err != nil {
		t.Fatalf("consul kv get -recurse skynomad/buckets/: %v", err)
	}
	out := map[string]bucket.Record{}
	for _, p := range pairs {
		var r bucket.Record
		if err := json.Unmarshal(p.Value, &r); err != nil {
			t.Fatalf("%s: %v", p.Key, err)
		}
		if strings.HasSuffix(r.Owner, ":"+h.home) {
			out[r.Name] = r
		}
	}
	return out
}

// waitFilesGone waits until the store holds nothing under the job-files
// prefix and every record of the controller in Consul says gone.
func (h *harness) waitFilesGone(t *testing.T, s objectStore, wantRecords int) {
	t.Helper()
	deadline := time.Now().Add(h.target.wait)
	for {
		keys := s.keys(t, filesBucket, filesPrefix+"/")
		recs := h.records(t)
		gone := 0
		for _, r := range recs {
			if r.State == bucket.StateGone {
				gone++
			}
		}
		if len(keys) == 0 && gone == len(recs) && len(recs) == wantRecords {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d object(s) left under %s://%s/%s/ %q; records: %s (want %d, all gone)",
				h.target.wait, len(keys), s.scheme(), filesBucket, filesPrefix, keys, dump(recs), wantRecords)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// project writes a user's project: files by relative path (a name ending
// in .sh is executable).
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A spot job keeps its checkpoint in a MOUNT bucket: its first attempt
// writes step 3 there and is preempted; the next attempt, on a fresh node
// with the workdir fetched again from the job-files bucket, resumes from
// step 3 and finishes. The job's prefix is gone afterwards, and its record
// in Consul says so; the checkpoint bucket, which the job named, stays.
func TestCheckpointAcrossPreemption(t *testing.T) {
	t.Run("s3", func(t *testing.T) { bucketScenario(t, s3Store, checkpointAcrossPreemption) })
	t.Run("gcs", func(t *testing.T) { bucketScenario(t, gcsStore, checkpointAcrossPreemption) })
}

func checkpointAcrossPreemption(t *testing.T, h *harness, s objectStore) {
	ckpt := fmt.Sprintf("e2e-ckpt-%d", time.Now().UnixNano()%1e9)
	proj := project(t, map[string]string{
		"input.txt": "hello\n",
		"train.sh": `#!/bin/bash
set -e
last=$(cat ckpt/step 2>/dev/null || echo 0)
echo "resuming from step $last ($(cat data/input.txt))"
for ((s = last + 1; s <= 6; s++)); do
  echo "$s" > ckpt/step
  echo "step $s"
  if [ "$s" -eq 3 ] && [ "$last" -eq 0 ]; then sleep 600; fi
done
echo "trained"
`,
		"task.yaml": `name: ckpt
workdir: .
file_mounts:
  ckpt:
    name: ` + ckpt + `
    store: ` + s.store() + `
    mode: MOUNT
  data/input.txt: ./input.txt
run: ./train.sh
`,
	})
	r := h.runIn(proj, "jobs", "launch", "-d", "-y", "task.yaml")
	if r.code != 0 {
		t.Fatalf("launch: %s", r)
	}
	id := jobID(t, r)
	h.waitUntil(id, "step 3 in the checkpoint bucket", func() bool { return strings.TrimSpace(s.get(ckpt, "step")) == "3" })
	h.preempt(id)
	j := h.waitEnd(id)
	logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
	if j.Status != api.StatusSucceeded || j.Recoveries != 1 {
		t.Fatalf("job ended %s after %d recoveries, want SUCCEEDED after 1:\n%s\n%s", j.Status, j.Recoveries, dump(j), logs)
	}
	containsInOrder(t, "job logs", logs, "resuming from step 0 (hello)", "step 3", "resuming from step 3 (hello)", "step 6", "trained")
	if got := strings.TrimSpace(s.get(ckpt, "step")); got != "6" {
		t.Errorf("the checkpoint bucket holds step %q, want 6", got)
	}
	h.waitFilesGone(t, s, 1)
}

// A cancelled job's files are removed too.
func TestCancelledJobLeavesNoFiles(t *testing.T) {
	bucketScenario(t, s3Store, func(t *testing.T, h *harness, s objectStore) {
		proj := project(t, map[string]string{"wait.sh": "#!/bin/bash\necho waiting\nsleep 600\n",
			"task.yaml": "name: waits\nworkdir: .\nrun: ./wait.sh\n"})
		r := h.runIn(proj, "jobs", "launch", "-d", "-y", "task.yaml")
		if r.code != 0 {
			t.Fatalf("launch: %s", r)
		}
		id := jobID(t, r)
		h.waitJob(id, "RUNNING", func(j api.Job) bool { return j.Status == api.StatusRunning })
		if keys := s.keys(t, filesBucket, filesPrefix+"/"); len(keys) == 0 {
			t.Fatal("a running job has nothing in the job-files bucket")
		}
		h.mustRun("jobs", "cancel", "-y", strconv.FormatInt(id, 10))
		if j := h.waitEnd(id); j.Status != api.StatusCancelled {
			t.Fatalf("job ended %s, want CANCELLED", j.Status)
		}
		h.waitFilesGone(t, s, 1)
	})
}

// A controller killed while it uploads a job's files: the restarted
// controller uploads them again to the same prefix and launches the job
// once, with every file; nothing is left in the bucket afterwards.
func TestControllerCrashDuringUpload(t *testing.T) {
	bucketScenario(t, func(t *testing.T) objectStore { return newS3Server(t, filesBucket) }, func(t *testing.T, h *harness, st objectStore) {
		s := st.(*s3Server)
		const n = 1500
		files := map[string]string{"task.yaml": "name: many\nworkdir: .\nrun: |\n  echo \"files: $(find . -type f | wc -l)\"\n"}
		for i := range n {
			files[fmt.Sprintf("data/%02d/f%04d.txt", i%20, i)] = strings.Repeat("x", i%300)
		}
		proj := project(t, files)
		s.putDelay.Store(int64(40 * time.Millisecond))
		r := h.runIn(proj, "jobs", "launch", "-d", "-y", "task.yaml")
		if r.code != 0 {
			t.Fatalf("launch: %s", r)
		}
		id := jobID(t, r)
		up := h.waitJob(id, "uploading", func(j api.Job) bool { return j.Upload != nil && j.Upload.Files > 0 })
		if up.Status != api.StatusPending || !strings.HasPrefix(up.Details, "uploading files to the job-files bucket: ") {
			t.Errorf("while it uploads the job is %s with details %q, want PENDING saying so", up.Status, up.Details)
		}
		h.killController()
		s.putDelay.Store(0)
		j := h.waitEnd(id)
		logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
		if j.Status != api.StatusSucceeded || j.Tasks[0].Attempt != 1 {
			t.Fatalf("job ended %s on attempt %d, want SUCCEEDED on its first:\n%s\n%s", j.Status, j.Tasks[0].Attempt, dump(j), logs)
		}
		if want := fmt.Sprintf("files: %d", n+1); !strings.Contains(logs, want) {
			t.Errorf("the task saw another workdir; want %q in:\n%s", want, logs)
		}
		h.waitFilesGone(t, s, 1)
		if keys := s.keys(t, filesBucket, ""); len(keys) != 0 {
			t.Errorf("the bucket still holds %d object(s): %q", len(keys), keys[:min(len(keys), 5)])
		}
	})
}

// deniedS3 answers every request as S3 does for credentials without the
// permission (403 AccessDenied): a narrow stand-in at the HTTP seam for
// what gofakes3 cannot refuse.
func deniedS3(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>E2E</RequestId></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Files that cannot be stored or mounted are refused before anything is
// submitted, with an error placed on the field that asks for them: a
// job-files bucket that does not exist, one these credentials may not
// use, a bucket mount's store without credentials, a local source that
// does not exist.
func TestFilesProblemsAreLocated(t *testing.T) {
	s := newS3Server(t, filesBucket)
	noCreds := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=" + s.URL, "AWS_CA_BUNDLE=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_ROLE_ARN="}
	denied := append(s.env(), "AWS_ENDPOINT_URL_S3="+deniedS3(t))
	proj := project(t, map[string]string{
		"workdir.yaml": "name: a\nworkdir: .\nrun: ls\n",
		"mount.yaml":   "name: b\nrun: ls\nfile_mounts:\n  /ckpt:\n    name: e2e-ckpt\n    store: s3\n",
		"missing.yaml": "name: c\nrun: ls\nfile_mounts:\n  data: ./missing.csv\n",
	})
	tests := []struct {
		name, config, file string
		env                []string
		first, hint        string
	}{
		{"no such job-files bucket", "jobs:\n  bucket: s3://no-such-bucket/jobs\n", "workdir.yaml", s.env(),
			"workdir.yaml:2:10: workdir: the job-files bucket s3://no-such-bucket/jobs (jobs.bucket): ", "accepted: jobs.bucket"},
		{"denied", fmt.Sprintf("jobs:\n  bucket: s3://%s/jobs\n", filesBucket), "workdir.yaml", denied,
			"workdir.yaml:2:10: workdir: the job-files bucket s3://" + filesBucket + "/jobs (jobs.bucket): ", "accepted: jobs.bucket"},
		{"no credentials", fmt.Sprintf("jobs:\n  bucket: s3://%s/jobs\n", filesBucket), "mount.yaml", noCreds,
			"mount.yaml:5:5: file_mounts./ckpt: bucket s3://e2e-ckpt", "accepted: an existing bucket"},
		{"missing source", "", "missing.yaml", s.env(),
			"missing.yaml:4:9: file_mounts.data: source ./missing.csv does not exist", "accepted: an existing local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, localTarget(), harnessOptions{env: tt.env, config: tt.config})
			r := h.runIn(proj, "jobs", "launch", "-y", "-d", tt.file)
			// (after the line saying the controller starts)
			stderr := r.stderr
			if strings.HasPrefix(stderr, "Starting the local controller") {
				_, stderr, _ = strings.Cut(stderr, "\n")
			}
			first, rest, _ := strings.Cut(stderr, "\n")
			if r.code != 1 || !strings.HasPrefix(first, tt.first) {
				t.Fatalf("want exit 1 and a first line starting %q:\n%s", tt.first, r)
			}
			if !strings.Contains(rest, tt.hint) {
				t.Errorf("no %q under the error:\n%s", tt.hint, r.stderr)
			}
			if jobs := h.queue(); len(jobs) != 0 {
				t.Errorf("a job was submitted: %s", dump(jobs))
			}
			t.Logf("%s", r.stderr)
		})
	}
}

// A controller on another host cannot read the paths a task names: `jobs
// launch` sends the job's local files to it, the job runs with them even
// once the project is gone from the user's machine, and the controller's
// copy goes once they are in the job-files bucket. The controller runs
// here under another host name (its own UTS namespace).
func TestFilesSentToAControllerElsewhere(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		realagent.Unavailable(t, "a controller under another host name needs unshare (util-linux)")
	}
	t.Parallel()
	h := newHarness(t, localTarget())
	start := exec.Command("unshare", "--uts", "sh", "-c", `hostname skynomad-elsewhere && exec "$0" controller --detach`, skynomad)
	start.Env = h.env
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("starting the controller under another host name: %v\n%s", err, out)
	}
	proj := project(t, map[string]string{
		"train.sh":  "#!/bin/bash\necho \"trained on $(cat data/in.txt)\"\n",
		"in.txt":    "the staged copy",
		"task.yaml": "name: elsewhere\nworkdir: .\nfile_mounts:\n  data/in.txt: ./in.txt\nrun: ./train.sh\n",
	})
	r := h.runIn(proj, "jobs", "launch", "-y", "-d", "task.yaml")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "Sending the job's local files to the controller on skynomad-elsewhere") {
		t.Fatalf("launch: want the files sent to the controller:\n%s", r)
	}
	id := jobID(t, r)
	if err := os.RemoveAll(proj); err != nil {
		t.Fatal(err)
	}
	j := h.waitEnd(id)
	logs := h.mustRun("jobs", "logs", "--no-follow", strconv.FormatInt(id, 10)).stdout
	if j.Status != api.StatusSucceeded || !strings.Contains(logs, "trained on the staged copy") {
		t.Fatalf("job ended %s, want SUCCEEDED with its files:\n%s\n%s", j.Status, dump(j), logs)
	}
	staging := filepath.Join(h.home, "staging")
	for deadline := time.Now().Add(h.target.wait); ; time.Sleep(100 * time.Millisecond) {
		left, _ := os.ReadDir(staging)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller still keeps the job's copy in %s: %v", staging, left)
		}
	}
}
