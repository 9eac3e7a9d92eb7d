// Package gcstest runs the bucket store conformance suite, and the GCS
// error tests, against fake-gcs-server. It holds tests only: the fake
// server is heavy to compile, so package bucket's own tests leave it out.
package gcstest
