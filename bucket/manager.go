package bucket

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/task"
)

// ReuseParallel is how many objects an upload copies at once from an
// earlier job's identical tree.
const ReuseParallel = 64

// Config is a controller's job-files bucket.
type Config struct {
	// Bucket is jobs.bucket: the store root every job's prefix goes
	// under. Empty: a temporary bucket per job, under Temp.
	Bucket string
	// Temp is where a job's temporary bucket is made when Bucket is
	// empty: file:///dir makes the directory dir/skynomad-<runid>; s3://
	// or gs:// (no bucket) makes the bucket skynomad-<runid> there.
	Temp string
	// LocalBuckets is the directory holding named buckets of the local
	// store (a bucket mount {name: x} when the job-files bucket is a
	// directory): LocalBuckets/x.
	LocalBuckets string
	// Records keeps what is stored per job (Consul KV, else the
	// controller's store).
	Records Records
	// Owner names this controller in the records it writes; it cleans
	// only its own.
	Owner string
	// Open opens a store (default Open).
	Open func(context.Context, URL) (Store, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Manager uploads, describes and cleans the job-files of one
// controller's jobs. Its methods may run concurrently for different
// jobs; a record's check-and-set writes keep two writers of one record
// (two controllers, or a restart racing a cleanup) from both acting.
type Manager struct {
	cfg Config
}

// NewManager checks cfg and returns its Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Records == nil || cfg.Owner == "" {
		return nil, errors.New("bucket: a manager needs records and an owner")
	}
	if cfg.Bucket == "" && cfg.Temp == "" {
		return nil, errors.New("bucket: neither a bucket nor a place for temporary buckets is configured")
	}
	for _, u := range []string{cfg.Bucket, cfg.Temp} {
		if u == "" || u == "s3://" || u == "gs://" {
			continue
		}
		if _, err := ParseURL(u); err != nil {
			return nil, err
		}
	}
	if cfg.Open == nil {
		cfg.Open = Open
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg}, nil
}

// Job is what the manager needs of a managed job.
type Job struct {
	ID        int64
	Submitted time.Time
	DAG       task.DAG
}

// Name is the job's record name and prefix: job-<runid>, where the run id
// is the job id and a hash of the owner and the submission time, so that
// two controllers sharing a bucket and a Consul never pick the same one.
func (m *Manager) Name(j Job) string {
	h := sha256.Sum256([]byte(m.cfg.Owner + "\x00" + strconv.FormatInt(j.Submitted.UnixNano(), 10)))
	return fmt.Sprintf("job-%d-%s", j.ID, hex.EncodeToString(h[:4]))
}

// NeedsRecord reports whether a job has files to upload or buckets to
// drop with it: only such jobs have a record.
func NeedsRecord(dag task.DAG) bool {
	if len(dag.LocalPaths()) > 0 {
		return true
	}
	for _, t := range dag.Tasks {
		for _, mt := range t.Mounts {
			if mt.BucketName != "" && mt.Persistent != nil && !*mt.Persistent {
				return true
			}
		}
	}
	return false
}

// keys are the store keys of one task's uploads.
type keys struct{ base string }

func (m *Manager) keys(name string, dag task.DAG, taskIdx int) keys {
	if len(dag.Tasks) > 1 {
		return keys{base: name + "/task-" + strconv.Itoa(taskIdx)}
	}
	return keys{base: name}
}

func (k keys) workdir() string    { return k.base + "/workdir" }
func (k keys) mount(i int) string { return k.base + "/local-file-mounts/" + strconv.Itoa(i) }

// plan lists the units of a job: each local workdir and local file mount
// of each task.
func (m *Manager) plan(name string, dag task.DAG) ([]Unit, []string, error) {
	var units []Unit
	var drop []string
	for ti, t := range dag.Tasks {
		k := m.keys(name, dag, ti)
		if w := t.Workdir; w != nil && w.Path != "" {
			units = append(units, Unit{Key: k.workdir(), Source: w.Path, Dest: "~/sky_workdir", Dir: true})
		}
		for i, mt := range t.Mounts {
			switch {
			case mt.Bucket() && mt.LocalSource():
				// {name: x, source: ./dir}: the directory is synced
				// into bucket x, which is then mounted.
				u, err := m.bucketURL(mt)
				if err != nil {
					return nil, nil, fmt.Errorf("file_mounts %s: %w", mt.Dest, err)
				}
				units = append(units, Unit{Store: u, Source: mt.Source, Dest: mt.Dest, Dir: true})
			case len(mt.Sources) > 0:
				// {name: x, source: [a, b/]}: each path goes to bucket
				// x's root under its base name, as SkyPilot uploads a list.
				u, err := m.bucketURL(mt)
				if err != nil {
					return nil, nil, fmt.Errorf("file_mounts %s: %w", mt.Dest, err)
				}
				for _, src := range mt.Sources {
					units = append(units, Unit{Store: u, Key: src.Name, Source: src.Path, Dest: mt.Dest})
				}
			case mt.LocalSource():
				units = append(units, Unit{Key: k.mount(i), Source: mt.Source, Dest: mt.Dest})
			}
			// persistent: false drops a bucket the job names (not one
			// given by URL, which skynomad does not own).
			named := mt.BucketName != "" && (mt.Source == "" || mt.LocalSource())
			if mt.Bucket() && named && mt.Persistent != nil && !*mt.Persistent {
				u, err := m.bucketURL(mt)
				if err != nil {
					return nil, nil, fmt.Errorf("file_mounts %s: %w", mt.Dest, err)
				}
				drop = append(drop, u)
			}
		}
	}
	return units, drop, nil
}

// Upload stores the job's local files and returns its ready record. It
// resumes an upload a crash cut short (same record, same keys: objects
// are written again) and returns at once for a record already ready.
func (m *Manager) Upload(ctx context.Context, j Job, progress func(Progress)) (Record, error) {
	name := m.Name(j)
	for {
		rec, ver, found, err := m.cfg.Records.Get(ctx, name)
		if err != nil {
			return Record{}, err
		}
		if !found {
			rec, err = m.newRecord(ctx, name, j)
			if err != nil {
				return Record{}, err
			}
			ver, err = m.cfg.Records.Put(ctx, rec, 0)
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return Record{}, err
			}
		}
		switch {
		case rec.Owner != m.cfg.Owner:
			return Record{}, fmt.Errorf("the job's files %s belong to controller %s", name, rec.Owner)
		case rec.State == StateReady:
			return rec, nil
		case rec.State != StateUploading:
			return Record{}, fmt.Errorf("the job's files %s were removed (%s)", name, rec.State)
		}
		rec, err = m.upload(ctx, rec, progress)
		if err != nil {
			m.noteError(ctx, name, err)
			return Record{}, err
		}
		if _, err := m.cfg.Records.Put(ctx, rec, ver); err != nil {
			if errors.Is(err, ErrConflict) {
				continue // someone moved it on: look again
			}
			return Record{}, err
		}
		return rec, nil
	}
}

// newRecord is the record of a job's upload before it starts.
func (m *Manager) newRecord(ctx context.Context, name string, j Job) (Record, error) {
	units, drop, err := m.plan(name, j.DAG)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		Name: name, Job: j.ID, Store: m.cfg.Bucket, Owner: m.cfg.Owner, State: StateUploading,
		Units: units, Drop: drop, Updated: m.cfg.Now().UTC(),
	}
	if rec.Store == "" {
		rec.Temporary = true
		rec.Store = tempURL(m.cfg.Temp, name)
	}
	return rec, nil
}

// tempURL is the temporary bucket of job name under temp.
func tempURL(temp, name string) string {
	b := "skynomad-" + strings.TrimPrefix(name, "job-")
	if temp == "s3://" || temp == "gs://" {
		return temp + b
	}
	return strings.TrimSuffix(temp, "/") + "/" + b
}

// upload writes every unit of rec and returns it ready.
func (m *Manager) upload(ctx context.Context, rec Record, progress func(Progress)) (Record, error) {
	u, err := ParseURL(rec.Store)
	if err != nil {
		return rec, err
	}
	st, err := m.cfg.Open(ctx, u)
	if err != nil {
		return rec, err
	}
	if _, err := st.Ensure(ctx, rec.Temporary); err != nil {
		return rec, err
	}
	trees := make([]Tree, len(rec.Units))
	var total Progress
	for i, un := range rec.Units {
		t, err := Scan(un.Source)
		if err != nil {
			return rec, fmt.Errorf("%s: %w", un.Source, err)
		}
		trees[i] = t
		total.TotalFiles += len(t.Files)
		total.TotalBytes += t.Bytes
	}
	reuse := m.reusable(ctx, rec)
	var done Progress
	for i := range rec.Units {
		un := &rec.Units[i]
		t := trees[i]
		target, key, modesKey := st, un.Key, ""
		if un.Store != "" {
			bu, err := ParseURL(un.Store)
			if err != nil {
				return rec, err
			}
			if target, err = m.cfg.Open(ctx, bu); err != nil {
				return rec, err
			}
			if _, err := target.Ensure(ctx, true); err != nil {
				return rec, err
			}
			modesKey = "" // the bucket is the user's: no mode list in it
		} else {
			modesKey = modesKeyOf(rec.Name, un.Key)
		}
		opts := UploadOptions{}
		if un.Store == "" && t.Hash != "" {
			if opts.Reuse = reuse[t.Hash]; opts.Reuse != "" {
				// Copies inside the store move no bytes from here:
				// more of them at once.
				opts.Parallel = ReuseParallel
			}
		}
		base := done
		if progress != nil {
			opts.Progress = func(p Progress) {
				progress(Progress{
					Files: base.Files + p.Files, TotalFiles: total.TotalFiles,
					Bytes: base.Bytes + p.Bytes, TotalBytes: total.TotalBytes,
				})
			}
		}
		modes, err := UploadTree(ctx, target, t, key, modesKey, opts)
		if err != nil {
			return rec, fmt.Errorf("upload %s: %w", un.Source, err)
		}
		un.Dir, un.Files, un.Bytes, un.Hash, un.Modes = t.Dir, len(t.Files), t.Bytes, t.Hash, modes
		done.Files += len(t.Files)
		done.Bytes += t.Bytes
		rec.Files += len(t.Files)
		rec.Bytes += t.Bytes
	}
	now := m.cfg.Now().UTC()
	rec.State, rec.Uploaded, rec.Updated, rec.Error = StateReady, now, now, ""
	return rec, nil
}

// modesKeyOf is where a unit's mode list goes: under the job's tmp-files.
func modesKeyOf(name, key string) string {
	rest := strings.TrimPrefix(key, name+"/")
	return name + "/tmp-files/modes-" + strings.ReplaceAll(rest, "/", "-") + ".json"
}

// reusable maps a tree hash to a key holding that tree in rec's store,
// from other ready records: the unchanged workdir of an earlier job is
// copied inside the store instead of uploaded again.
func (m *Manager) reusable(ctx context.Context, rec Record) map[string]string {
	all, err := m.cfg.Records.List(ctx)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, o := range all {
		if o.State != StateReady || o.Store != rec.Store || o.Name == rec.Name {
			continue
		}
		for _, un := range o.Units {
			if un.Store == "" && un.Hash != "" {
				out[un.Hash] = un.Key
			}
		}
	}
	return out
}

// noteError records why an upload failed, for `consul kv get` readers;
// the record stays uploading until the job's end cleans it.
func (m *Manager) noteError(ctx context.Context, name string, cause error) {
	rec, ver, found, err := m.cfg.Records.Get(ctx, name)
	if err != nil || !found || rec.State != StateUploading {
		return
	}
	rec.Error, rec.Updated = cause.Error(), m.cfg.Now().UTC()
	_, _ = m.cfg.Records.Put(ctx, rec, ver)
}

// CleanLease is how long a cleanup under way keeps others off its record;
// after that (its controller died), another takes it over.
const CleanLease = time.Minute

// Clean removes a job's prefix (and its temporary bucket, and the buckets
// it drops) and marks the record gone. Only the owner cleans. Every
// cleanup first writes the record as cleaning, unless another cleanup is
// under way (cleaning, without an error, for less than CleanLease); of
// two cleanups racing, only the one whose write lands removes anything.
func (m *Manager) Clean(ctx context.Context, name string) error {
	rec, ver, found, err := m.cfg.Records.Get(ctx, name)
	if err != nil || !found || rec.State == StateGone || rec.Owner != m.cfg.Owner {
		return err
	}
	now := m.cfg.Now().UTC()
	if rec.State == StateCleaning && rec.Error == "" && now.Sub(rec.Updated) < CleanLease {
		return nil // a cleanup is under way
	}
	rec.State, rec.Updated = StateCleaning, now
	if ver, err = m.cfg.Records.Put(ctx, rec, ver); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil // another cleanup is at it
		}
		return err
	}
	if err := m.remove(ctx, rec); err != nil {
		rec.Error, rec.Updated = err.Error(), m.cfg.Now().UTC()
		_, _ = m.cfg.Records.Put(ctx, rec, ver)
		return fmt.Errorf("clean %s: %w", name, err)
	}
	rec.State, rec.Error, rec.Updated = StateGone, "", m.cfg.Now().UTC()
	if _, err = m.cfg.Records.Put(ctx, rec, ver); errors.Is(err, ErrConflict) {
		return nil // a later cleanup took over; it ends the record
	}
	return err
}

// remove deletes what rec stored.
func (m *Manager) remove(ctx context.Context, rec Record) error {
	var errs []error
	u, err := ParseURL(rec.Store)
	if err != nil {
		return err
	}
	st, err := m.cfg.Open(ctx, u)
	if err == nil {
		err = DeletePrefix(ctx, st, rec.Name)
		if err == nil && rec.Temporary {
			err = st.DeleteBucket(ctx)
		}
	}
	if err != nil && !errors.Is(err, ErrNoBucket) {
		errs = append(errs, err)
	}
	for _, b := range rec.Drop {
		bu, err := ParseURL(b)
		if err == nil {
			var bs Store
			if bs, err = m.cfg.Open(ctx, bu); err == nil {
				if err = DeletePrefix(ctx, bs, ""); err == nil {
					err = bs.DeleteBucket(ctx)
				}
			}
		}
		if err != nil && !errors.Is(err, ErrNoBucket) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Owned lists this controller's records.
func (m *Manager) Owned(ctx context.Context) ([]Versioned, error) {
	all, err := m.cfg.Records.List(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if r.Owner == m.cfg.Owner {
			out = append(out, r)
		}
	}
	return out, nil
}

// Record returns the job's record, if it has one.
func (m *Manager) Record(ctx context.Context, j Job) (Record, bool, error) {
	rec, _, found, err := m.cfg.Records.Get(ctx, m.Name(j))
	return rec, found, err
}

// NodeFiles is what a node of task taskIdx fetches: its uploaded units
// from rec (nil: the job uploaded nothing) and its bucket mounts.
func (m *Manager) NodeFiles(rec *Record, dag task.DAG, taskIdx int) (node.Files, error) {
	var f node.Files
	t := dag.Tasks[taskIdx]
	if rec != nil {
		f.Store = rec.Store
		k := m.keys(rec.Name, dag, taskIdx)
		units := map[string]Unit{}
		for _, un := range rec.Units {
			// An empty tree stored nothing: there is nothing to fetch.
			if un.Store == "" && (un.Hash == "" || un.Files > 0) {
				units[un.Key] = un
			}
		}
		if un, ok := units[k.workdir()]; ok {
			f.Workdir, f.WorkdirModes = un.Key, un.Modes
		}
		for i, mt := range t.Mounts {
			if un, ok := units[k.mount(i)]; ok && !mt.Bucket() {
				f.Copies = append(f.Copies, node.Copy{Key: un.Key, Dir: un.Dir, Modes: un.Modes, Path: mt.Dest})
			}
		}
	}
	for _, mt := range t.Mounts {
		if !mt.Bucket() {
			continue
		}
		u, err := m.bucketURL(mt)
		if err != nil {
			return node.Files{}, fmt.Errorf("file_mounts %s: %w", mt.Dest, err)
		}
		mode := mt.Mode
		if mode == "" {
			mode = task.MountModeCopy // `DST: s3://...` copies
		}
		f.Buckets = append(f.Buckets, node.Bucket{URL: u, Mode: string(mode), Path: mt.Dest})
	}
	if f.Workdir == "" && len(f.Copies) == 0 {
		f.Store = "" // nothing of the job-files bucket is fetched
	}
	return f, nil
}

// storeSchemes maps a bucket mount's store to a URL scheme.
var storeSchemes = map[string]string{"s3": "s3", "gcs": "gs"}

// Stores lists the stores a bucket mount may name.
const Stores = "s3, gcs (or none: the job-files bucket's kind)"

// bucketURL is the URL of a bucket mount: its source when that is a
// bucket URL, else its name in its store (or in the job-files bucket's
// kind of store).
func (m *Manager) bucketURL(mt task.Mount) (string, error) {
	if !mt.LocalSource() && mt.Source != "" {
		if _, err := ParseURL(mt.Source); err != nil {
			return "", err
		}
		return strings.TrimSuffix(mt.Source, "/"), nil
	}
	if mt.BucketName == "" {
		return "", errors.New("a bucket mount with a local source needs a name")
	}
	scheme := m.defaultScheme()
	if mt.Store != "" {
		s, ok := storeSchemes[mt.Store]
		if !ok {
			return "", fmt.Errorf("store %s is not supported here: skynomad mounts %s", mt.Store, Stores)
		}
		scheme = s
	}
	if scheme == "file" {
		return "file://" + path.Join(m.cfg.LocalBuckets, mt.BucketName), nil
	}
	u := scheme + "://" + mt.BucketName
	if _, err := ParseURL(u); err != nil {
		return "", err
	}
	return u, nil
}

// defaultScheme is the kind of store a bucket mount without a store uses:
// the job-files bucket's.
func (m *Manager) defaultScheme() string {
	s := cmp.Or(m.cfg.Bucket, m.cfg.Temp)
	scheme, _, _ := strings.Cut(s, "://")
	return scheme
}

// Preview is what the first attempt of task taskIdx would fetch, before
// anything is uploaded (`skynomad translate`): the keys of a job named
// job-<runid> in store (jobs.bucket, or a temporary bucket's name).
func Preview(store string, dag task.DAG, taskIdx int) (node.Files, error) {
	m := &Manager{cfg: Config{Bucket: store, LocalBuckets: "~/.skynomad/buckets"}}
	const name = "job-<runid>"
	units, _, err := m.plan(name, dag)
	if err != nil {
		return node.Files{}, err
	}
	rec := Record{Name: name, Store: store, Units: units}
	for i := range rec.Units {
		rec.Units[i].Dir = rec.Units[i].Key != "" // a preview cannot tell a file from a tree
	}
	return m.NodeFiles(&rec, dag, taskIdx)
}

// PreviewTemp stands for a job's temporary bucket in a preview.
const PreviewTemp = "s3://skynomad-<runid>"
