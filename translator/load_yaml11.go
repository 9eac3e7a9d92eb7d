package translator

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SkyPilot reads task YAML with PyYAML, which follows YAML 1.1: a plain
// `yes`, `off` or `0x10` is a boolean or a number, not a string. yaml.v3
// follows YAML 1.2, so this file re-resolves plain scalars the way PyYAML
// does. Where SkyPilot turns a loaded value back into a string (env and
// secret values, cpus, memory) it calls Python's str(), so `FOO: yes` reaches
// the task as "True" and `N: 010` as "8". We mirror that on purpose: a task
// file must mean the same thing under skynomad as under SkyPilot.
// Timestamps (which PyYAML also resolves) keep their text.

// scalarKind is the type PyYAML would give a scalar.
type scalarKind int

const (
	nullKind scalarKind = iota
	boolKind
	intKind
	floatKind
	strKind
)

func (k scalarKind) String() string {
	return [...]string{"null", "boolean", "integer", "number", "string"}[k]
}

// yamlScalar is one resolved YAML scalar.
type yamlScalar struct {
	kind scalarKind
	// raw is the text as written.
	raw string
	// text is Python's str() of the loaded value ("True", "8", "1.5").
	text string
	b    bool
	i    *big.Int // intKind
	f    float64  // intKind and floatKind
}

// PyYAML's implicit resolvers (yaml/resolver.py), YAML 1.1.
var (
	yaml11Null  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	yaml11Bool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yaml11Int   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Float = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

// resolveScalar types a scalar node as PyYAML would. Quoted and block scalars are
// strings; an explicit !!str tag too.
func resolveScalar(n *yaml.Node) yamlScalar {
	s := yamlScalar{kind: strKind, raw: n.Value, text: n.Value}
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	if quoted || (n.Style&yaml.TaggedStyle != 0 && n.Tag == "!!str") {
		return s
	}
	v := n.Value
	switch {
	case v != "" && strings.IndexByte("~nNyYtTfFoO-+.0123456789", v[0]) < 0:
		// Like PyYAML, look at the first character first: most scalars are
		// words no resolver could match.
	case yaml11Null.MatchString(v):
		s.kind, s.text = nullKind, "None"
	case yaml11Bool.MatchString(v):
		s.kind, s.b = boolKind, looseBool[strings.ToLower(v)]
		s.text = "False"
		if s.b {
			s.text = "True"
		}
	case yaml11Int.MatchString(v):
		if i, ok := yaml11ParseInt(v); ok {
			s.kind, s.i, s.text = intKind, i, i.String()
			s.f, _ = new(big.Float).SetInt(i).Float64()
		}
	case yaml11Float.MatchString(v):
		if f, ok := yaml11ParseFloat(v); ok {
			s.kind, s.f, s.text = floatKind, f, pythonFloat(f)
		}
	}
	return s
}

// looseBool is every spelling accepted where a boolean is expected. It
// includes y/n, which PyYAML leaves as strings but users write for flags.
var looseBool = map[string]bool{
	"true": true, "yes": true, "on": true, "y": true,
	"false": false, "no": false, "off": false, "n": false,
}

// yaml11ParseInt follows PyYAML's construct_yaml_int.
func yaml11ParseInt(v string) (*big.Int, bool) {
	v = strings.ReplaceAll(v, "_", "")
	neg := false
	if v != "" && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	var i *big.Int
	ok := false
	switch {
	case v == "0":
		i, ok = new(big.Int), true
	case strings.HasPrefix(v, "0b"):
		i, ok = new(big.Int).SetString(v[2:], 2)
	case strings.HasPrefix(v, "0x"):
		i, ok = new(big.Int).SetString(v[2:], 16)
	case strings.HasPrefix(v, "0"):
		i, ok = new(big.Int).SetString(v[1:], 8)
	case strings.Contains(v, ":"):
		i, ok = sexagesimal(v)
	default:
		i, ok = new(big.Int).SetString(v, 10)
	}
	if !ok {
		return nil, false
	}
	if neg {
		i.Neg(i)
	}
	return i, true
}

// sexagesimal reads YAML 1.1 base-60 integers such as 1:30 (= 90).
func sexagesimal(v string) (*big.Int, bool) {
	total := new(big.Int)
	for _, part := range strings.Split(v, ":") {
		d, ok := new(big.Int).SetString(part, 10)
		if !ok {
			return nil, false
		}
		total.Mul(total, big.NewInt(60))
		total.Add(total, d)
	}
	return total, true
}

// yaml11ParseFloat follows PyYAML's construct_yaml_float.
func yaml11ParseFloat(v string) (float64, bool) {
	v = strings.ToLower(strings.ReplaceAll(v, "_", ""))
	sign := 1.0
	if v != "" && (v[0] == '-' || v[0] == '+') {
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
	}
	switch {
	case v == ".inf":
		return sign * math.Inf(1), true
	case v == ".nan":
		return math.NaN(), true
	case strings.Contains(v, ":"):
		total := 0.0
		for _, part := range strings.Split(v, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return 0, false
			}
			total = total*60 + d
		}
		return sign * total, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return sign * f, true
}

// pythonFloat formats f as Python's repr(float) does: the shortest digits,
// fixed notation for exponents in [-4, 16), always with a fractional part.
func pythonFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
