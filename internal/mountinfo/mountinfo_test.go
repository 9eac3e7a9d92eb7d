package mountinfo_test

import (
	"testing"

	"github.com/skynomad/skynomad/internal/mountinfo"
)

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/tmp/a\040b/secrets`: "/tmp/a b/secrets",
		`/tmp/plain`:          "/tmp/plain",
		`/tmp/tab\011x`:       "/tmp/tab\tx",
		`/tmp/back\134slash`:  `/tmp/back\slash`,
		`/tmp/trailing\04`:    `/tmp/trailing\04`,
		`/tmp/not\08octal`:    `/tmp/not\08octal`,
	} {
		if got := mountinfo.Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q; want %q", in, got, want)
		}
	}
}
