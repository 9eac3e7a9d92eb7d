package node

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    location
		remote  string
		wantErr string
	}{
		{raw: "file:///srv/store/", want: location{scheme: "file", key: "/srv/store"}},
		{raw: "file://localhost/srv", want: location{scheme: "file", key: "/srv"}},
		{raw: "s3://jobs", want: location{scheme: "s3", bucket: "jobs"}, remote: "skynomads3:jobs"},
		{raw: "s3://jobs/pre/fix/", want: location{scheme: "s3", bucket: "jobs", key: "pre/fix"}, remote: "skynomads3:jobs/pre/fix"},
		{raw: "gs://b/a#b?c", want: location{scheme: "gs", bucket: "b", key: "a#b?c"}, remote: "skynomadgcs:b/a#b?c"},
		{raw: "file://rel/dir", wantErr: "absolute path"},
		{raw: "s3:///key", wantErr: "names no bucket"},
		{raw: "s3://b/../x", wantErr: "climbs out"},
		{raw: "r2://b", wantErr: `unsupported store "r2://"`},
		{raw: "/just/a/path", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		got, err := parseLocation(tt.raw)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseLocation(%q) = %v, want error containing %q", tt.raw, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLocation(%q): %v", tt.raw, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseLocation(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
		if tt.remote != "" && got.remote() != tt.remote {
			t.Errorf("parseLocation(%q).remote() = %q, want %q", tt.raw, got.remote(), tt.remote)
		}
	}
}

func TestLocationJoin(t *testing.T) {
	t.Parallel()
	s3, _ := parseLocation("s3://jobs/pre")
	got, err := s3.join("job-1/workdir/")
	if err != nil || got.String() != "s3://jobs/pre/job-1/workdir" {
		t.Errorf("join = %v, %v", got, err)
	}
	local, _ := parseLocation("file:///store")
	got, err = local.join("job-1/local-file-mounts/0")
	if err != nil || got.key != "/store/job-1/local-file-mounts/0" {
		t.Errorf("join = %+v, %v", got, err)
	}
	if _, err := local.join("job-1/../../etc"); err == nil {
		t.Error("join of a key with .. succeeded")
	}
}

func TestResolvePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "/data/x/", want: "/data/x"},
		{in: "~/ckpt", want: "/home/u/ckpt"},
		{in: "~", want: "/home/u"},
		{in: "data/in", want: "/home/u/sky_workdir/data/in"},
		{in: "~bob/x", wantErr: "~user"},
		{in: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		got, err := resolvePath(tt.in, "/home/u/sky_workdir", "/home/u")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("resolvePath(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolvePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := resolvePath("~/x", "/w", ""); err == nil {
		t.Error("~/x without a home resolved")
	}
}

// rcloneConfig picks the remote settings out of an rclone environment.
func rcloneConfig(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RCLONE_") || name == "AWS_CA_BUNDLE" {
			out[name] = value
		}
	}
	return out
}

func TestRcloneEnv(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"RCLONE_CONFIG_SKYNOMADS3_TYPE":                "s3",
		"RCLONE_CONFIG_SKYNOMADS3_ENV_AUTH":            "true",
		"RCLONE_CONFIG_SKYNOMADS3_NO_CHECK_BUCKET":     "true",
		"RCLONE_CONFIG_SKYNOMADGCS_TYPE":               "google cloud storage",
		"RCLONE_CONFIG_SKYNOMADGCS_BUCKET_POLICY_ONLY": "true",
		"RCLONE_CONFIG_SKYNOMADGCS_NO_CHECK_BUCKET":    "true",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		env  []string
		want map[string]string
	}{{
		name: "AWS defaults",
		env:  []string{"PATH=/bin", "AWS_CA_BUNDLE=/etc/ca.pem", "RCLONE_S3_REGION=eu-west-1"},
		want: with(map[string]string{
			"RCLONE_CONFIG_SKYNOMADS3_PROVIDER":  "AWS",
			"RCLONE_CONFIG_SKYNOMADS3_REGION":    "us-east-1",
			"RCLONE_CONFIG_SKYNOMADGCS_ENV_AUTH": "true",
		}),
	}, {
		name: "S3 endpoint and region, GCS emulator",
		env: []string{"PATH=/bin", "AWS_DEFAULT_REGION=eu-west-3", "AWS_ENDPOINT_URL=http://other:1",
			"AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000", "STORAGE_EMULATOR_HOST=127.0.0.1:4443",
			EnvGCSCredentials + "={}"},
		want: with(map[string]string{
			"RCLONE_CONFIG_SKYNOMADS3_PROVIDER":         "Other",
			"RCLONE_CONFIG_SKYNOMADS3_REGION":           "eu-west-3",
			"RCLONE_CONFIG_SKYNOMADS3_ENDPOINT":         "http://127.0.0.1:9000",
			"RCLONE_CONFIG_SKYNOMADS3_FORCE_PATH_STYLE": "true",
			"RCLONE_CONFIG_SKYNOMADGCS_ENDPOINT":        "http://127.0.0.1:4443/storage/v1/",
			"RCLONE_CONFIG_SKYNOMADGCS_ANONYMOUS":       "true",
		}),
	}, {
		name: "GCS service account",
		env:  []string{"PATH=/bin", "AWS_REGION=ap-south-1", "AWS_DEFAULT_REGION=eu-west-3", EnvGCSCredentials + `={"type":"service_account"}`},
		want: with(map[string]string{
			"RCLONE_CONFIG_SKYNOMADS3_PROVIDER":                     "AWS",
			"RCLONE_CONFIG_SKYNOMADS3_REGION":                       "ap-south-1",
			"RCLONE_CONFIG_SKYNOMADGCS_SERVICE_ACCOUNT_CREDENTIALS": `{"type":"service_account"}`,
		}),
	}}
	for _, tt := range tests {
		got := rcloneConfig(rcloneEnv(tt.env))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: rclone environment (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseModes(t *testing.T) {
	t.Parallel()
	got, err := parseModes([]byte(`{"run.sh": "0755", "": "700", "bin/tool": "4755"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := modeList{"run.sh": 0o755, "": 0o700, "bin/tool": 0o755 | fs.ModeSetuid}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseModes (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{"a": "rwx"}`, `{"a": "99"}`, `{"../a": "0644"}`, `{"/etc/passwd": "0644"}`, `["0644"]`, `{"a": "17777"}`} {
		if _, err := parseModes([]byte(bad)); err == nil {
			t.Errorf("parseModes(%s) succeeded", bad)
		}
	}
}

func TestParseMountinfoLine(t *testing.T) {
	t.Parallel()
	line := `512 26 0:507 / /tmp/a\040b/mnt rw,nosuid,nodev,relatime shared:1 - fuse.rclone skynomads3:jobs/ck rw,user_id=0,group_id=0`
	got, ok := parseMountinfoLine(line)
	want := mountEntry{point: "/tmp/a b/mnt", fstype: "fuse.rclone", source: "skynomads3:jobs/ck"}
	if !ok || got != want {
		t.Errorf("parseMountinfoLine = %+v, %v; want %+v", got, ok, want)
	}
}

func TestLineTail(t *testing.T) {
	t.Parallel()
	var seen []string
	tail := newLineTail(2, func(l string) { seen = append(seen, l) })
	tail.Write([]byte("2026/12/03 07:56:34 ERROR : one\ntwo\n2026/12/03 07:56:34 Failed to copyto: three\npart"))
	if diff := cmp.Diff([]string{"ERROR : one", "two", "Failed to copyto: three"}, seen); diff != "" {
		t.Errorf("lines handed on (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"two", "Failed to copyto: three", "part"}, tail.lines()); diff != "" {
		t.Errorf("lines kept (-want +got):\n%s", diff)
	}
}
