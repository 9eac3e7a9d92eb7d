package bucket

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ignoreRule is one line of a .gitignore-syntax file.
type ignoreRule struct {
	re *regexp.Regexp
	// negate: a "!" rule, which re-includes what an earlier one excluded.
	negate bool
	// dirOnly: the pattern ended with "/" and matches directories only.
	dirOnly bool
	// anchored: the pattern had a "/" before its end, so it matches the
	// path relative to the file's directory; else it matches the name at
	// any depth.
	anchored bool
}

// ignoreFile is the rules of one ignore file, which apply to the paths
// under base (a "/"-separated path relative to the scanned root; "" for
// the root).
type ignoreFile struct {
	base  string
	rules []ignoreRule
}

// parseIgnore reads gitignore syntax: blank lines and "#" comments are
// skipped, trailing spaces dropped unless escaped, "!" negates, a trailing
// "/" matches directories only, a leading or inner "/" anchors the pattern
// to the file's directory, "*" "?" "[...]" match within one path element,
// "**" matches across elements ("**/x", "x/**", "a/**/b"), and "\" quotes
// the next character. A pattern that cannot be read is skipped, as git
// does.
func parseIgnore(base string, data []byte) ignoreFile {
	f := ignoreFile{base: base}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		line = trimTrailingSpaces(line)
		var r ignoreRule
		if line[0] == '!' {
			r.negate, line = true, line[1:]
		}
		if strings.HasSuffix(line, "/") && !strings.HasSuffix(line, `\/`) {
			r.dirOnly, line = true, strings.TrimRight(line, "/")
		}
		if line == "" {
			continue
		}
		if i := strings.Index(line, "/"); i >= 0 {
			r.anchored = true
			line = strings.TrimPrefix(line, "/")
		}
		re, err := globRegexp(line)
		if err != nil {
			continue
		}
		r.re = re
		f.rules = append(f.rules, r)
	}
	return f
}

// trimTrailingSpaces drops the trailing spaces of a line that are not
// quoted by a backslash.
func trimTrailingSpaces(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		// Count the backslashes before the space: an odd number quotes it.
		n := 0
		for i := end - 2; i >= 0 && s[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			break
		}
		end--
	}
	return s[:end]
}

// globRegexp translates a gitignore glob (without its leading "/" or
// trailing "/") to a regular expression matching a whole "/"-separated
// path.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(glob); {
		c := glob[i]
		switch {
		case c == '*' && strings.HasPrefix(glob[i:], "**") && (i == 0 || glob[i-1] == '/') &&
			(i+2 == len(glob) || glob[i+2] == '/'):
			// "**" as a whole element.
			switch {
			case i+2 == len(glob) && i == 0: // "**": everything
				b.WriteString(`.*`)
			case i+2 == len(glob): // "x/**": everything inside x
				b.WriteString(`.*`)
			default: // "**/": zero or more elements
				b.WriteString(`(?:.*/)?`)
				i++ // the "/"
			}
			i += 2
		case c == '*':
			for i < len(glob) && glob[i] == '*' {
				i++
			}
			b.WriteString(`[^/]*`)
		case c == '?':
			b.WriteString(`[^/]`)
			i++
		case c == '[':
			class, n, ok := globClass(glob[i:])
			if !ok { // git's wildmatch: the pattern matches nothing
				return nil, fmt.Errorf("bad bracket expression in %q", glob)
			}
			b.WriteString(class)
			i += n
		case c == '\\' && i+1 < len(glob):
			b.WriteString(regexp.QuoteMeta(glob[i+1 : i+2]))
			i += 2
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			i++
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// globClass translates the bracket expression at the start of s ("[a-z]",
// "[!abc]", "[]x]", "[[:digit:]]") to a regexp class that never matches
// "/", returning how many bytes of s it took; ok is false if it is not
// closed or not valid.
func globClass(s string) (class string, n int, ok bool) {
	var b strings.Builder // the class in Go's syntax
	b.WriteString("[")
	i := 1
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		b.WriteString("^")
		i++
	}
	for first := true; i < len(s); first = false {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == ']' && !first:
			b.WriteString("]")
			class, err := classWithoutSlash(b.String())
			return class, i + 1, err == nil
		case c == '[' && strings.HasPrefix(s[i:], "[:"):
			end := strings.Index(s[i+2:], ":]")
			if end < 0 {
				return "", 0, false
			}
			b.WriteString(s[i : i+2+end+2])
			i += 2 + end + 2
			continue
		case c == '\\' && i+1 < len(s):
			i += size
			c, size = utf8.DecodeRuneInString(s[i:])
			writeClassRune(&b, c)
		case c == '-':
			b.WriteByte('-')
		default:
			writeClassRune(&b, c)
		}
		i += size
	}
	return "", 0, false
}

// writeClassRune writes c as a literal inside a Go regexp class.
func writeClassRune(b *strings.Builder, c rune) {
	if c < utf8.RuneSelf && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
		b.WriteByte('\\')
	}
	b.WriteRune(c)
}

// classWithoutSlash returns the Go regexp class class less "/": a
// bracket expression never matches a path separator.
func classWithoutSlash(class string) (string, error) {
	re, err := syntax.Parse(class, syntax.Perl)
	if err != nil {
		return "", err
	}
	var ranges []rune // pairs, lo-hi
	switch re.Op {
	case syntax.OpCharClass:
		ranges = re.Rune
	case syntax.OpLiteral:
		ranges = []rune{re.Rune[0], re.Rune[0]}
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		ranges = []rune{0, unicode.MaxRune}
	default:
		return "", fmt.Errorf("unexpected class %s", class)
	}
	var b strings.Builder
	b.WriteString("[")
	for k := 0; k+1 < len(ranges); k += 2 {
		lo, hi := ranges[k], ranges[k+1]
		if lo <= '/' && '/' <= hi {
			if lo < '/' {
				fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, '/'-1)
			}
			lo = '/' + 1
		}
		if lo <= hi {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, hi)
		}
	}
	if b.Len() == 1 {
		return `[^\x00-\x{10ffff}]`, nil // matches nothing
	}
	b.WriteString("]")
	return b.String(), nil
}

// ignores is the stack of ignore files in effect for a directory, from
// the lowest precedence to the highest.
type ignores []ignoreFile

// ignored reports whether the path rel ("/"-separated, relative to the
// scanned root) is excluded: the last rule that matches it, in the
// deepest file that has one, decides.
func (st ignores) ignored(rel string, dir bool) bool {
	name := path.Base(rel)
	for i := len(st) - 1; i >= 0; i-- {
		f := st[i]
		sub := rel
		if f.base != "" {
			var ok bool
			if sub, ok = strings.CutPrefix(rel, f.base+"/"); !ok {
				continue
			}
		}
		for j := len(f.rules) - 1; j >= 0; j-- {
			r := f.rules[j]
			if r.dirOnly && !dir {
				continue
			}
			target := name
			if r.anchored {
				target = sub
			}
			if r.re.MatchString(target) {
				return !r.negate
			}
		}
	}
	return false
}
