package realagent

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatal and Skip instead of ending.
type recorder struct {
	testing.TB
	fatal, skip, log string
}

func (r *recorder) Logf(format string, args ...any) { r.log = fmt.Sprintf(format, args...) }

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = args[0].(string) }
func (r *recorder) Skip(args ...any)  { r.skip = args[0].(string) }

func TestAddr(t *testing.T) {
	tests := []struct {
		name, ci, addr       string
		want, fatal, skipped string
	}{
		{name: "set, in CI", ci: "true", addr: "http://127.0.0.1:4646", want: "http://127.0.0.1:4646"},
		{name: "set, not in CI", addr: "http://127.0.0.1:4646", want: "http://127.0.0.1:4646"},
		{name: "unset, in CI", ci: "true", fatal: "NOMAD_ADDR not set: a Nomad agent (CI=true: real-agent tests must run, not skip;"},
		{name: "unset, not in CI", skipped: "NOMAD_ADDR not set: a Nomad agent"},
		{name: "unset, CI is not true", ci: "1", skipped: "NOMAD_ADDR not set: a Nomad agent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("NOMAD_ADDR", tc.addr)
			r := &recorder{}
			got := Addr(r, "NOMAD_ADDR", "a Nomad agent")
			if got != tc.want {
				t.Errorf("Addr = %q; want %q", got, tc.want)
			}
			if !strings.HasPrefix(r.fatal, tc.fatal) || (tc.fatal == "") != (r.fatal == "") {
				t.Errorf("Fatal(%q); want it to start with %q", r.fatal, tc.fatal)
			}
			if wantLog := map[bool]string{true: Marker + "NOMAD_ADDR=" + tc.addr}[tc.addr != ""]; r.log != wantLog {
				t.Errorf("logged %q; want %q", r.log, wantLog)
			}
			if r.skip != tc.skipped {
				t.Errorf("Skip(%q); want %q", r.skip, tc.skipped)
			}
		})
	}
}
