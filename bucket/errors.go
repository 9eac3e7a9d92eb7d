package bucket

import (
	"errors"
	"fmt"
)

// Errors a Store returns, wrapped with the store URL, the operation and
// what to do; test them with errors.Is.
var (
	// ErrNoBucket: the bucket (or, for file://, the directory) does not
	// exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrDenied: the store refused the credentials in use (HTTP 401/403).
	ErrDenied = errors.New("access denied")
	// ErrNotConfigured: no credentials were found for the store's client.
	ErrNotConfigured = errors.New("no credentials found")
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object does not exist")
	// ErrChanged: a local file changed between Scan and UploadTree; scan
	// again.
	ErrChanged = errors.New("file changed since it was scanned")
)

// storeError is an error of one store operation, classified as one of the
// sentinel errors above (kind) when it could be.
type storeError struct {
	url  URL
	op   string // "put", "list", ...
	key  string // the store key, "" for bucket operations
	kind error  // one of the sentinels, or nil
	err  error  // the client's error
}

func (e *storeError) Error() string {
	where := e.url.String()
	if e.key != "" {
		where = e.url.join(e.key)
	}
	msg := fmt.Sprintf("%s %s", e.op, where)
	if e.kind != nil {
		msg += ": " + e.kind.Error()
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	if h := hint(e.url, e.kind); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

func (e *storeError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// hint says what the user can do about an error of kind.
func hint(u URL, kind error) string {
	switch kind {
	case ErrNoBucket:
		if u.Scheme == "file" {
			return "create the directory, or let skynomad create it"
		}
		return "check the bucket name, create the bucket, or let skynomad create a temporary one"
	case ErrDenied:
		if u.Scheme == "file" {
			return "check the permissions of the directory and its files"
		}
		return "the credentials in use may not read, write, list or delete in this bucket; grant them access or use other credentials"
	case ErrNotConfigured:
		switch u.Scheme {
		case "s3":
			return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance role is available"
		case "gs":
			return "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
		}
	}
	return ""
}

// wrap returns err as a storeError of op on key, classified as kind (nil:
// unclassified); nil if both are nil. An error that is already a
// storeError is returned as it is.
func wrap(u URL, op, key string, kind, err error) error {
	if err == nil && kind == nil {
		return nil
	}
	var se *storeError
	if errors.As(err, &se) {
		return err
	}
	if kind == err {
		err = nil
	}
	return &storeError{url: u, op: op, key: key, kind: kind, err: err}
}
