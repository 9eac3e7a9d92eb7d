package translator

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// $VAR / ${VAR} substitution into workdir and file_mounts, as SkyPilot
// does it (sky/task.py, _fill_in_env_vars): from envs and secrets once
// --env/--secret are applied (a secret wins over an env of the same
// name); an unknown variable is left as written; setup and run are left
// to the shell.

// varRef is SkyPilot's pattern `\$\{?\b([a-zA-Z_][a-zA-Z0-9_]*)\b\}?`:
// the braces are each optional, so `${A` and `$A}` are references too.
var varRef = regexp.MustCompile(`\$\{?\b([a-zA-Z_][a-zA-Z0-9_]*)\b\}?`)

// substVars are the values a task's files may refer to.
type substVars struct {
	values  map[string]string
	secrets map[string]bool
}

func newSubstVars(envs, secrets []task.EnvVar) substVars {
	v := substVars{values: map[string]string{}, secrets: map[string]bool{}}
	for _, e := range envs {
		v.values[e.Name] = e.Value
	}
	for _, s := range secrets {
		v.values[s.Name] = s.Value
		v.secrets[s.Name] = true
	}
	return v
}

// expanded is a string as written and after substitution, with what each
// reference in it became, for messages.
type expanded struct {
	written, value string
	// refs are "NAME=value" (a secret's value hidden) and "NAME is not
	// set" for each reference, in order, once each.
	refs []string
}

// expand substitutes the references in s.
func (v substVars) expand(s string) expanded {
	e := expanded{written: s}
	seen := map[string]bool{}
	e.value = varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		val, ok := v.values[name]
		if !seen[name] {
			seen[name] = true
			switch {
			case !ok:
				e.refs = append(e.refs, name+" is not set in envs or secrets")
			case v.secrets[name]:
				e.refs = append(e.refs, name+"=<secret>")
			default:
				e.refs = append(e.refs, name+"="+val)
			}
		}
		if !ok {
			return ref
		}
		return val
	})
	return e
}

// expandText substitutes into a field as written; a command-line value
// is taken as it is, and an absent field is "".
func (v substVars) expandText(t *textAt) expanded {
	if t == nil {
		return expanded{}
	}
	if t.flag {
		return expanded{written: t.text, value: t.text}
	}
	return v.expand(t.text)
}

// quoted is the value as written, quoted, and what its references became:
// `"$STORE" (STORE=azur)`.
func (e expanded) quoted() string {
	return strconv.Quote(e.written) + e.note()
}

// note is what the references became, ` (STORE=azur)`, or "".
func (e expanded) note() string {
	if len(e.refs) == 0 {
		return ""
	}
	return " (" + strings.Join(e.refs, ", ") + ")"
}
