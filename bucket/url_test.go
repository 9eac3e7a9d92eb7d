package bucket

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want URL
		str  string // String(), when it differs from in
	}{
		{in: "file:///srv/buckets", want: URL{Scheme: "file", Bucket: "/srv/buckets"}},
		{in: "file:///srv/buckets/", want: URL{Scheme: "file", Bucket: "/srv/buckets"}, str: "file:///srv/buckets"},
		{in: "file://localhost/srv/b", want: URL{Scheme: "file", Bucket: "/srv/b"}, str: "file:///srv/b"},
		{in: "file:///a dir/100%", want: URL{Scheme: "file", Bucket: "/a dir/100%"}},
		{in: "s3://my-bucket", want: URL{Scheme: "s3", Bucket: "my-bucket"}},
		{in: "s3://my.bucket.1/jobs/files", want: URL{Scheme: "s3", Bucket: "my.bucket.1", Prefix: "jobs/files"}},
		{in: "S3://abc/p/", want: URL{Scheme: "s3", Bucket: "abc", Prefix: "p"}, str: "s3://abc/p"},
		{in: "gs://team_data/x", want: URL{Scheme: "gs", Bucket: "team_data", Prefix: "x"}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
		if again, err := ParseURL(got.String()); err != nil || again != got {
			t.Errorf("ParseURL(%q) = %+v, %v; does not round-trip %+v", got.String(), again, err, got)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // in the error
	}{
		{"http://example.com/b", `unknown scheme "http"`},
		{"nebius://my-bucket", "store nebius is not supported here: skynomad mounts s3, gcs"},
		{"r2://my-bucket", "store r2 is not supported here"},
		{"azure://c", "s3://bucket[/prefix] or gs://bucket[/prefix]"},
		{"/srv/buckets", "no scheme"},
		{"s3://", "no bucket name"},
		{"gs:///prefix", "no bucket name"},
		{"file://relative/dir", "absolute directory path"},
		{"file://", "absolute directory path"},
		{"s3://ab", "2 characters"},
		{"s3://" + strings.Repeat("a", 64), "64 characters"},
		{"s3://My-Bucket", "uppercase"},
		{"s3://under_score", `'_'`},
		{"gs://-abc", "start and end"},
		{"s3://abc-", "start and end"},
		{"s3://a..b", `".."`},
		{"s3://192.168.1.1", "IP address"},
		{"s3://abc/x//y", "empty"},
		{"gs://abc/../y", `".."`},
	} {
		_, err := ParseURL(tc.in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseURL(%q): %q does not say %q and name the URL", tc.in, err, tc.want)
		}
	}
}

func TestURLKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		u    URL
		k    string
		want string
	}{
		{URL{Scheme: "s3", Bucket: "b"}, "job-1/workdir/a", "job-1/workdir/a"},
		{URL{Scheme: "s3", Bucket: "b", Prefix: "p/q"}, "job-1/a", "p/q/job-1/a"},
		{URL{Scheme: "gs", Bucket: "b", Prefix: "p"}, "", "p/"},
		{URL{Scheme: "file", Bucket: "/srv/b"}, "job-1/a", "/srv/b/job-1/a"},
	} {
		if got := tc.u.Key(tc.k); got != tc.want {
			t.Errorf("%v.Key(%q) = %q, want %q", tc.u, tc.k, got, tc.want)
		}
	}
}
