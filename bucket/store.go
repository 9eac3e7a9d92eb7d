package bucket

import (
	"context"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Object is one stored object.
type Object struct {
	// Key is relative to the store root (the URL's prefix removed).
	Key  string
	Size int64
}

// Store is one bucket root. Keys are relative to the root and
// "/"-separated, with no empty, "." or ".." element. A Store is safe for
// concurrent use.
type Store interface {
	URL() URL
	// Ensure checks that the bucket exists; if it does not and create is
	// true it creates it. created reports that it did.
	Ensure(ctx context.Context, create bool) (created bool, err error)
	// Put stores size bytes of r under key, replacing what was there; a
	// reader is never left half-stored under key. r should be an
	// io.ReadSeeker (an *os.File, an io.SectionReader) so a request can
	// be retried; S3 over plain http needs it.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object at key; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns every object whose key starts with prefix (a string
	// prefix: "job-1" also lists "job-10/x"), recursively, sorted by key.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Copy copies the object at from to to, server-side where the store
	// can. ErrNotFound if from does not exist; an error wrapping
	// errors.ErrUnsupported if the store cannot copy this object (then
	// upload it instead).
	Copy(ctx context.Context, from, to string) error
	// Delete deletes the objects at keys; missing keys are not an error.
	Delete(ctx context.Context, keys []string) error
	// DeleteBucket deletes the bucket itself, which must be empty (for
	// file, the directory). ErrNoBucket if it does not exist.
	DeleteBucket(ctx context.Context) error
}

// Options are the clients OpenWith uses instead of the environment's.
type Options struct {
	// AWS is the configuration of the S3 client; nil: LoadDefaultConfig.
	// A BaseEndpoint (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) switches
	// to path-style addressing, for S3-compatible stores.
	AWS *aws.Config
	// GCS is the client of gs:// stores; nil: storage.NewClient with
	// Application Default Credentials.
	GCS *storage.Client
	// GCSProject is the project a gs:// bucket is created in; "":
	// GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT or the credentials'.
	GCSProject string
}

// Open returns the store for u with credentials from the environment:
// file needs none; s3 loads the AWS SDK's default configuration
// (environment, shared files, instance role), region from AWS_REGION or
// AWS_DEFAULT_REGION, else us-east-1; gs uses Application Default
// Credentials and honours STORAGE_EMULATOR_HOST.
func Open(ctx context.Context, u URL) (Store, error) {
	return OpenWith(ctx, u, Options{})
}

// OpenWith is Open with the clients of o.
func OpenWith(ctx context.Context, u URL, o Options) (Store, error) {
	switch u.Scheme {
	case "file":
		return newFileStore(u)
	case "s3":
		return newS3Store(ctx, u, o)
	case "gs":
		return newGCSStore(ctx, u, o)
	}
	return nil, fmt.Errorf("store URL %q: unknown scheme %q; use %s", u.String(), u.Scheme, acceptedURLs)
}

// checkKey reports whether k is a valid store key.
func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty key")
	}
	for seg := range strings.SplitSeq(k, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("key %q: empty, \".\" or \"..\" element", k)
		}
	}
	if strings.ContainsRune(k, 0) {
		return fmt.Errorf("key %q: NUL character", k)
	}
	return nil
}
