// Package bucketname holds the naming rules of S3 and GCS buckets, which
// the task loader (a bucket mount's name) and the job-files bucket (a
// store URL) both apply.
package bucketname

import (
	"fmt"
	"net"
	"strings"
)

// Rules says which names Check accepts, for messages.
const Rules = "3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"

// Error is why a name breaks the rules.
type Error struct {
	Name, Why string
}

func (e *Error) Error() string {
	return fmt.Sprintf("bad bucket name %q: %s (names are %s)", e.Name, e.Why, Rules)
}

// Check applies the S3 ("s3") or GCS ("gs") naming rules: 3 to 63
// characters (GCS: up to 222 when dotted, 63 between dots) of lowercase
// letters, digits, dots and hyphens (GCS also underscores), starting and
// ending with a letter or a digit, no "..", not an IP address.
func Check(scheme, name string) error {
	bad := func(why string) error { return &Error{Name: name, Why: why} }
	maxLen := 63
	if scheme == "gs" && strings.Contains(name, ".") {
		maxLen = 222
	}
	if len(name) < 3 || len(name) > maxLen {
		return bad(fmt.Sprintf("%d characters", len(name)))
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-':
		case c == '_' && scheme == "gs":
		case c >= 'A' && c <= 'Z':
			return bad("uppercase letters")
		default:
			return bad(fmt.Sprintf("the character %q", c))
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return bad("it must start and end with a letter or a digit")
	}
	if strings.Contains(name, "..") {
		return bad(`".."`)
	}
	if scheme == "gs" {
		for part := range strings.SplitSeq(name, ".") {
			if len(part) > 63 {
				return bad("a dot-separated part is longer than 63 characters")
			}
		}
	}
	if net.ParseIP(name) != nil {
		return bad("it is an IP address")
	}
	return nil
}
