package hostclean

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b/secrets`: "/tmp/a b/secrets",
		`/tmp/plain`:          "/tmp/plain",
		`/tmp/tab\011x`:       "/tmp/tab\tx",
		`/tmp/trailing\04`:    `/tmp/trailing\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q; want %q", in, got, want)
		}
	}
}
