package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// gcsChunk is the most a GCS upload buffers per object: a smaller object
// goes in one request (retryable from the buffer), a larger one in
// resumable chunks of this size.
const gcsChunk = 8 << 20

// gcsStore is a store in a Google Cloud Storage bucket.
type gcsStore struct {
	u       URL
	c       *storage.Client
	b       *storage.BucketHandle
	project string
	owned   bool // the store made c and closes it
}

var _ Store = (*gcsStore)(nil)

func newGCSStore(ctx context.Context, u URL, o Options) (*gcsStore, error) {
	s := &gcsStore{u: u, c: o.GCS, project: o.GCSProject}
	if s.c == nil {
		// JSON reads: the XML API of STORAGE_EMULATOR_HOST's emulator
		// (fake-gcs-server) needs a host it may not serve.
		c, err := storage.NewClient(ctx, storage.WithJSONReads())
		if err != nil {
			var kind error
			if noGCSCredentials(err) {
				kind = ErrNotConfigured
			}
			return nil, wrap(u, "open", "", kind, err)
		}
		s.c, s.owned = c, true
	}
	s.b = s.c.Bucket(u.Bucket)
	return s, nil
}

// noGCSCredentials reports whether err says there are no Application
// Default Credentials; the library has no error type for it.
func noGCSCredentials(err error) bool {
	return strings.Contains(err.Error(), "could not find default credentials")
}

func (s *gcsStore) URL() URL { return s.u }

// Close closes the client the store made.
func (s *gcsStore) Close() error {
	if s.owned {
		return s.c.Close()
	}
	return nil
}

// fail classifies a GCS error.
func (s *gcsStore) fail(op, key string, err error) error {
	return wrap(s.u, op, key, gcsKind(err), err)
}

func gcsKind(err error) error {
	if err == nil {
		return nil
	}
	if noGCSCredentials(err) {
		return ErrNotConfigured
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return ErrDenied
		case http.StatusNotFound:
			// GCS: "The specified bucket does not exist."
			if strings.Contains(strings.ToLower(ge.Message), "bucket does not exist") {
				return ErrNoBucket
			}
		}
	}
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return ErrNoBucket
	case errors.Is(err, storage.ErrObjectNotExist):
		return ErrNotFound
	}
	return nil
}

// is404 reports whether err is a GCS "not found".
func is404(err error) bool {
	var ge *googleapi.Error
	return errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) ||
		errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

func (s *gcsStore) Ensure(ctx context.Context, create bool) (bool, error) {
	_, err := s.b.Attrs(ctx)
	if err == nil {
		return false, nil
	}
	if kind := gcsKind(err); kind != ErrNoBucket || !create {
		return false, wrap(s.u, "ensure", "", kind, err)
	}
	project, err := s.projectID(ctx)
	if err != nil {
		return false, err
	}
	err = s.b.Create(ctx, project, nil)
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusConflict {
		if _, aerr := s.b.Attrs(ctx); aerr == nil {
			return false, nil // created meanwhile, and ours to see
		}
		return false, wrap(s.u, "create", "", nil, fmt.Errorf("%w: the name is taken; bucket names are global, choose another", err))
	}
	if err != nil {
		return false, s.fail("create", "", err)
	}
	return true, nil
}

// projectID is the project a new bucket goes in: the option, the
// environment's, or the credentials'.
func (s *gcsStore) projectID(ctx context.Context) (string, error) {
	if s.project != "" {
		return s.project, nil
	}
	for _, env := range []string{"GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT"} {
		if p := os.Getenv(env); p != "" {
			return p, nil
		}
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_write"}})
	if err == nil {
		var p string
		if p, err = creds.ProjectID(ctx); err == nil && p != "" {
			return p, nil
		}
	}
	return "", wrap(s.u, "create", "", ErrNotConfigured, fmt.Errorf("no project to create the bucket in: set GOOGLE_CLOUD_PROJECT (%v)", err))
}

func (s *gcsStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return wrap(s.u, "put", "", nil, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // aborts the upload if Close is not reached
	w := s.b.Object(s.u.Key(key)).NewWriter(ctx)
	w.ChunkSize = gcsChunk
	if size >= 0 && size < gcsChunk {
		w.ChunkSize = int(size) + 1
	}
	n, err := io.Copy(w, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	if err != nil {
		w.CloseWithError(err)
		return s.fail("put", key, err)
	}
	if err := w.Close(); err != nil {
		if is404(err) { // an upload's 404 is its bucket's
			return wrap(s.u, "put", key, ErrNoBucket, err)
		}
		return s.fail("put", key, err)
	}
	return nil
}

func (s *gcsStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, wrap(s.u, "get", "", nil, err)
	}
	r, err := s.b.Object(s.u.Key(key)).NewReader(ctx)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return r, nil
}

func (s *gcsStore) List(ctx context.Context, prefix string) ([]Object, error) {
	q := &storage.Query{Prefix: s.u.Key(prefix)}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return nil, wrap(s.u, "list", prefix, nil, err)
	}
	var objs []Object
	it := s.b.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			if is404(err) {
				return nil, wrap(s.u, "list", prefix, ErrNoBucket, err)
			}
			return nil, s.fail("list", prefix, err)
		}
		objs = append(objs, Object{Key: s.u.rel(a.Name), Size: a.Size})
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func (s *gcsStore) Copy(ctx context.Context, from, to string) error {
	for _, k := range []string{from, to} {
		if err := checkKey(k); err != nil {
			return wrap(s.u, "copy", "", nil, err)
		}
	}
	src, dst := s.b.Object(s.u.Key(from)), s.b.Object(s.u.Key(to))
	_, err := dst.CopierFrom(src).Run(ctx)
	return s.fail("copy", from, err)
}

func (s *gcsStore) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return wrap(s.u, "delete", "", nil, err)
		}
	}
	return forEach(ctx, len(keys), 16, func(ctx context.Context, i int) error {
		err := s.b.Object(s.u.Key(keys[i])).Delete(ctx)
		if err == nil || gcsKind(err) == ErrNotFound {
			return nil
		}
		return s.fail("delete", keys[i], err)
	})
}

func (s *gcsStore) DeleteBucket(ctx context.Context) error {
	err := s.b.Delete(ctx)
	if is404(err) {
		return wrap(s.u, "delete bucket", "", ErrNoBucket, err)
	}
	return s.fail("delete bucket", "", err)
}
