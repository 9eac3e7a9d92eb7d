// Package mountinfo owns the escaping of /proc/self/mountinfo (proc(5)):
// the kernel writes a space, tab, newline or backslash in a mount point
// or source as a backslash and three octal digits.
package mountinfo

import (
	"strconv"
	"strings"
)

// Unescape undoes the kernel's octal escapes in one mountinfo field
// (\040 is a space). A backslash not followed by three octal digits
// stays as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
