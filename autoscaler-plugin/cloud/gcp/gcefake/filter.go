package gcefake

import (
	"fmt"
	"path"
	"strings"
)

// filter is a parsed list filter: every term must hold.
type filter []term

type term struct {
	field string // name, status, zone or labels.<key>
	not   bool   // !=
	value string
}

// parseFilter reads the subset of GCE's list filter syntax the fake knows
// (see the package doc); "" matches everything.
func parseFilter(s string) (filter, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	var f filter
	depth := 0
	for i := 0; i < len(toks); {
		switch t := toks[i]; {
		case t == "(":
			depth++
			i++
		case t == ")":
			if depth == 0 {
				return nil, fmt.Errorf("unbalanced ')'")
			}
			depth--
			i++
		case strings.EqualFold(t, "AND"):
			i++
		case strings.EqualFold(t, "OR"):
			return nil, fmt.Errorf("OR is not supported by the fake")
		default:
			if i+2 >= len(toks) {
				return nil, fmt.Errorf("incomplete term after %q", t)
			}
			op, val := toks[i+1], toks[i+2]
			if op != "=" && op != "!=" {
				return nil, fmt.Errorf("operator %q is not supported by the fake", op)
			}
			if t != "name" && t != "status" && t != "zone" && !strings.HasPrefix(t, "labels.") {
				return nil, fmt.Errorf("field %q is not supported by the fake", t)
			}
			f = append(f, term{field: t, not: op == "!=", value: unquote(val)})
			i += 3
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '('")
	}
	return f, nil
}

// tokenize splits a filter into parentheses, operators, bare words and
// double-quoted strings (kept with their quotes).
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '=':
			toks = append(toks, string(c))
			i++
		case c == '!':
			if i+1 >= len(s) || s[i+1] != '=' {
				return nil, fmt.Errorf("unexpected '!' at %d", i)
			}
			toks = append(toks, "!=")
			i += 2
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()=!\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
	}
	return v
}

// matches reports whether inst (as served, status set) passes the filter.
func (f filter) matches(inst *apiInstance) bool {
	for _, t := range f {
		var got string
		var have bool
		switch {
		case t.field == "name":
			got, have = inst.Name, true
		case t.field == "status":
			got, have = inst.Status, true
		case t.field == "zone":
			got, have = inst.Zone, true
			if t.value == path.Base(inst.Zone) {
				got = t.value
			}
		default:
			got, have = inst.Labels[strings.TrimPrefix(t.field, "labels.")]
		}
		if (have && got == t.value) == t.not {
			return false
		}
	}
	return true
}
