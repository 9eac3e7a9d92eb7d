package bucket

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/skynomad/skynomad/internal/bucketname"
)

// URL is a store root: file:///abs/dir, s3://bucket[/prefix] or
// gs://bucket[/prefix].
type URL struct {
	// Scheme is "file", "s3" or "gs".
	Scheme string
	// Bucket is the bucket name; for file, the absolute directory path.
	Bucket string
	// Prefix is the key prefix under the bucket, without leading or
	// trailing "/"; "" for the bucket's root and always for file.
	Prefix string
}

const acceptedURLs = "file:///abs/dir, s3://bucket[/prefix] or gs://bucket[/prefix]"

// ParseURL parses a store root URL. A file URL takes its path as it is
// written (no percent-decoding); it must be absolute.
func ParseURL(s string) (URL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return URL{}, fmt.Errorf("store URL %q: no scheme; use %s", s, acceptedURLs)
	}
	switch strings.ToLower(scheme) {
	case "file":
		return parseFileURL(s, rest)
	case "s3", "gs":
		return parseBucketURL(s, strings.ToLower(scheme), rest)
	}
	if store, ok := otherStores[strings.ToLower(scheme)]; ok {
		return URL{}, fmt.Errorf("store URL %q: store %s is not supported here: skynomad mounts %s", s, store, Stores)
	}
	return URL{}, fmt.Errorf("store URL %q: unknown scheme %q; use %s", s, scheme, acceptedURLs)
}

// otherStores are the URL schemes of SkyPilot's stores that skynomad does
// not carry, by store name.
var otherStores = map[string]string{"r2": "r2", "nebius": "nebius", "cos": "ibm", "oci": "oci", "https": "azure"}

func parseFileURL(s, rest string) (URL, error) {
	if r, ok := strings.CutPrefix(rest, "localhost/"); ok {
		rest = "/" + r
	}
	if !strings.HasPrefix(rest, "/") || !filepath.IsAbs(rest) {
		return URL{}, fmt.Errorf("store URL %q: a file URL needs an absolute directory path, as in file:///abs/dir", s)
	}
	return URL{Scheme: "file", Bucket: filepath.Clean(rest)}, nil
}

func parseBucketURL(s, scheme, rest string) (URL, error) {
	name, prefix, _ := strings.Cut(rest, "/")
	if name == "" {
		return URL{}, fmt.Errorf("store URL %q: no bucket name; use %s://bucket[/prefix]", s, scheme)
	}
	if err := checkBucketName(scheme, name); err != nil {
		return URL{}, fmt.Errorf("store URL %q: %w", s, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		for seg := range strings.SplitSeq(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return URL{}, fmt.Errorf("store URL %q: the prefix %q has an empty, \".\" or \"..\" element", s, prefix)
			}
		}
	}
	return URL{Scheme: scheme, Bucket: name, Prefix: prefix}, nil
}

// checkBucketName applies the S3 or GCS naming rules.
func checkBucketName(scheme, name string) error { return bucketname.Check(scheme, name) }

// String returns the URL in the form ParseURL reads.
func (u URL) String() string {
	if u.Scheme == "file" {
		return "file://" + u.Bucket
	}
	s := u.Scheme + "://" + u.Bucket
	if u.Prefix != "" {
		s += "/" + u.Prefix
	}
	return s
}

// Key returns the object key of store key k: k under the prefix, joined
// with "/" (the prefix followed by "/" when k is ""). For file, it is the
// path of k's file under the directory.
func (u URL) Key(k string) string {
	if u.Scheme == "file" {
		return filepath.Join(u.Bucket, filepath.FromSlash(k))
	}
	if u.Prefix == "" {
		return k
	}
	return u.Prefix + "/" + k
}

// rel returns the store key of object key ok, the inverse of Key.
func (u URL) rel(ok string) string {
	if u.Prefix == "" {
		return ok
	}
	return strings.TrimPrefix(ok, u.Prefix+"/")
}

// join returns the URL of store key k, for messages.
func (u URL) join(k string) string {
	if u.Scheme == "file" {
		return "file://" + u.Key(k)
	}
	return u.Scheme + "://" + path.Join(u.Bucket, u.Key(k))
}
