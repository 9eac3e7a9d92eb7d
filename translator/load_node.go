package translator

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file is the small node-walking decoder the loader is built on: a
// mapping is read into pairs (with positions, duplicate-key checks and YAML
// merge keys), and each pair is decoded by the entry of a field table.

// taskDecoder carries what every decode step needs to report problems.
type taskDecoder struct {
	file string
	warn func(string)
	// warned holds the nodes warned about by warnOnce.
	warned map[*yaml.Node]bool
}

// warnAt reports a located warning.
func (d *taskDecoder) warnAt(n *yaml.Node, path, format string, args ...any) {
	if d.warn != nil {
		d.warn(d.errorAt(n, path, format, args...).Error())
	}
}

// warnOnce is warnAt for a field decoded several times (a resources key
// is decoded once per candidate): one warning per place in the file.
func (d *taskDecoder) warnOnce(n *yaml.Node, path, format string, args ...any) {
	if d.warned[n] {
		return
	}
	if d.warned == nil {
		d.warned = map[*yaml.Node]bool{}
	}
	d.warned[n] = true
	d.warnAt(n, path, format, args...)
}

// kv is one key of a mapping.
type kv struct {
	key, val *yaml.Node
	// name is the key as written (resources folds gpus into accelerators).
	name string
	// path is the dotted path of the key, for messages.
	path string
}

// maxMergeDepth bounds nested YAML merge keys (<<), which may form cycles.
const maxMergeDepth = 8

// unalias follows a YAML alias (*name) to the node it names. Errors about
// an aliased value are therefore located at its anchor.
func unalias(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// isNullNode reports whether n is absent or a YAML null.
func isNullNode(n *yaml.Node) bool {
	n = unalias(n)
	return n == nil || n.Kind == yaml.ScalarNode && resolveScalar(n).kind == nullKind
}

// isEmptyNode reports whether n is null, {} or [].
func isEmptyNode(n *yaml.Node) bool {
	n = unalias(n)
	return isNullNode(n) || (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0
}

// joinPath extends a dotted path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describeNode names what a node is, for "expected X, got Y" messages.
func describeNode(n *yaml.Node) string {
	n = unalias(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind != yaml.ScalarNode:
		return "an unexpected node"
	}
	s := resolveScalar(n)
	switch s.kind {
	case nullKind:
		return "nothing (null)"
	case strKind:
		return strconv.Quote(s.raw)
	}
	return s.kind.String() + " " + s.raw
}

// pairs reads a mapping node. Explicit keys win over merged (<<) ones;
// a key given twice is an error.
func (d *taskDecoder) pairs(n *yaml.Node, path string) ([]kv, error) {
	m := unalias(n)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, d.errorAt(m, path, "expected a mapping, got %s", describeNode(m))
	}
	c := collector{seen: map[string]*yaml.Node{}, visited: map[*yaml.Node]bool{}}
	err := d.collect(&c, m, path, 0)
	return c.out, err
}

// collector gathers the pairs of a mapping and of what it merges.
type collector struct {
	out  []kv
	seen map[string]*yaml.Node // key name → first key node
	// visited holds the mappings already read: merging one twice adds
	// nothing, and skipping it keeps alias-heavy input linear.
	visited map[*yaml.Node]bool
}

func (d *taskDecoder) collect(c *collector, m *yaml.Node, path string, depth int) error {
	if c.visited[m] {
		return nil
	}
	c.visited[m] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := unalias(m.Content[i]), m.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			return d.errorAt(k, path, "a key must be a plain name, got %s", describeNode(k))
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := c.seen[k.Value]; dup {
			if depth > 0 {
				continue // a key of the including mapping wins
			}
			return d.errorAt(k, joinPath(path, k.Value), "given twice (first at line %d)", first.Line)
		}
		c.seen[k.Value] = k
		c.out = append(c.out, kv{key: k, val: v, name: k.Value, path: joinPath(path, k.Value)})
	}
	for _, v := range merges {
		if depth >= maxMergeDepth {
			return d.errorAt(v, path, "merge keys (<<) nested too deeply")
		}
		src := unalias(v)
		items := []*yaml.Node{src}
		if src != nil && src.Kind == yaml.SequenceNode {
			items = src.Content
		}
		for _, item := range items {
			item = unalias(item)
			if item == nil || item.Kind != yaml.MappingNode {
				return d.errorAt(item, path, "<< must merge a mapping, got %s", describeNode(item))
			}
			if err := d.collect(c, item, path, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// items reads a sequence node.
func (d *taskDecoder) items(n *yaml.Node, path string) ([]*yaml.Node, error) {
	s := unalias(n)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil, d.errorAt(s, path, "expected a list, got %s", describeNode(s))
	}
	return s.Content, nil
}

// oneOrMany returns the items of a field whose value is one value or a
// list of them (ports, recover_on_exit_codes), each with its path.
func oneOrMany(p kv) []kv {
	s := unalias(p.val)
	if s == nil || s.Kind != yaml.SequenceNode {
		return []kv{p}
	}
	items := make([]kv, len(s.Content))
	for i, item := range s.Content {
		items[i] = kv{key: p.key, val: item, name: p.name, path: fmt.Sprintf("%s[%d]", p.path, i)}
	}
	return items
}

// decodeFunc decodes one field's value into dst.
type decodeFunc[T any] func(d *taskDecoder, p kv, dst *T) error

// fieldSpec is one entry of a field table. A nil decode means the caller reads
// the field itself (it is still a known key).
type fieldSpec[T any] struct {
	name   string
	decode decodeFunc[T]
}

// fieldTable is the table of keys a mapping accepts.
type fieldTable[T any] []fieldSpec[T]

// names lists the accepted keys, sorted.
func (fs fieldTable[T]) names() []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return sortedCopy(out)
}

// lookup finds the entry for a key, or reports an unknown field.
func (fs fieldTable[T]) lookup(d *taskDecoder, p kv) (fieldSpec[T], error) {
	for _, f := range fs {
		if f.name == p.name {
			return f, nil
		}
	}
	return fieldSpec[T]{}, d.errorAt(p.key, p.path, "unknown field").choices(p.name, fs.names())
}

// decodePairs decodes each pair with its table entry.
func (fs fieldTable[T]) decodePairs(d *taskDecoder, ps []kv, dst *T) error {
	for _, p := range ps {
		f, err := fs.lookup(d, p)
		if err != nil {
			return err
		}
		if f.decode == nil {
			continue
		}
		if err := f.decode(d, p, dst); err != nil {
			return err
		}
	}
	return nil
}

// decodeMapping reads the mapping n through the table fs.
func decodeMapping[T any](d *taskDecoder, n *yaml.Node, path string, fs fieldTable[T], dst *T) error {
	ps, err := d.pairs(n, path)
	if err != nil {
		return err
	}
	return fs.decodePairs(d, ps, dst)
}

// reader reads one value from a node; the scalar readers below are readers.
type reader[V any] func(d *taskDecoder, n *yaml.Node, path string) (V, error)

// valueField is a table entry that reads its value with read and stores it
// with set.
func valueField[T, V any](name string, read reader[V], set func(*T, V)) fieldSpec[T] {
	return fieldSpec[T]{name, func(d *taskDecoder, p kv, dst *T) error {
		v, err := read(d, p.val, p.path)
		if err == nil {
			set(dst, v)
		}
		return err
	}}
}

func stringField[T any](name string, set func(*T, string)) fieldSpec[T] {
	return valueField(name, (*taskDecoder).str, set)
}

func boolField[T any](name string, set func(*T, bool)) fieldSpec[T] {
	return valueField(name, (*taskDecoder).boolean, set)
}

func intField[T any](name string, lo, hi int, set func(*T, int)) fieldSpec[T] {
	return valueField(name, func(d *taskDecoder, n *yaml.Node, path string) (int, error) {
		return d.integer(n, path, lo, hi)
	}, set)
}

// enumField accepts one of values, in any case, and stores it as listed.
func enumField[T any](name string, values []string, set func(*T, string)) fieldSpec[T] {
	return valueField(name, func(d *taskDecoder, n *yaml.Node, path string) (string, error) {
		return d.enum(n, path, values)
	}, set)
}

// withoutEffect reads a field as f does, then warns once that it has no
// effect (why) when keep says the value read is one skynomad does not
// honour.
func withoutEffect[T any](f fieldSpec[T], why string, ignored func(*T) bool) fieldSpec[T] {
	decode := f.decode
	f.decode = func(d *taskDecoder, p kv, v *T) error {
		if err := decode(d, p, v); err != nil {
			return err
		}
		if ignored(v) {
			d.warnOnce(p.key, p.path, "has no effect in skynomad: %s", why)
		}
		return nil
	}
	return f
}

// unsupportedField is a SkyPilot field skynomad recognises but does not honour.
func unsupportedField[T any](name string) fieldSpec[T] {
	return fieldSpec[T]{name, func(d *taskDecoder, p kv, _ *T) error {
		return d.errorAt(p.key, p.path, "field %s is not supported by skynomad yet", name)
	}}
}

// Scalar readers. Each reports a located error naming what it expected.

// scalarAt resolves n, which must be a scalar.
func (d *taskDecoder) scalarAt(n *yaml.Node, path, want string) (*yaml.Node, yamlScalar, error) {
	s := unalias(n)
	if s == nil || s.Kind != yaml.ScalarNode {
		return s, yamlScalar{}, d.errorAt(s, path, "expected %s, got %s", want, describeNode(s))
	}
	return s, resolveScalar(s), nil
}

// str reads a string. Numbers keep their text; null is "". A plain
// boolean (yes, on, true...) is refused rather than turned into "True".
func (d *taskDecoder) str(n *yaml.Node, path string) (string, error) {
	s, sc, err := d.scalarAt(n, path, "a string")
	if err != nil {
		return "", err
	}
	switch sc.kind {
	case nullKind:
		return "", nil
	case boolKind:
		return "", d.errorAt(s, path, "expected a string, got boolean %s (quote it to mean the text)", sc.raw)
	}
	return sc.raw, nil
}

// script reads setup or run: a string, as SkyPilot requires (its SDK
// also takes a Python callable, which a YAML file cannot hold). A number
// or a boolean is refused rather than run as a one-word script.
func (d *taskDecoder) script(n *yaml.Node, path string) (string, error) {
	s, sc, err := d.scalarAt(n, path, "a shell script (a string)")
	if err != nil {
		return "", err
	}
	switch sc.kind {
	case nullKind:
		return "", nil
	case strKind:
		return sc.raw, nil
	}
	return "", d.errorAt(s, path, "expected a shell script (a string), got %s %s", sc.kind, sc.raw).
		accepting(fmt.Sprintf("a string; quote it (%s: \"%s\") or use a block (%s: |)", path, sc.raw, path))
}

// text reads a scalar as SkyPilot's str() would see it ("True", "8", "0.5").
func (d *taskDecoder) text(n *yaml.Node, path, want string) (string, error) {
	s, sc, err := d.scalarAt(n, path, want)
	if err == nil && sc.kind == nullKind {
		err = d.errorAt(s, path, "expected %s, got nothing (null)", want)
	}
	return sc.text, err
}

// boolean reads true/false, yes/no, on/off or y/n in any case.
func (d *taskDecoder) boolean(n *yaml.Node, path string) (bool, error) {
	s, sc, err := d.scalarAt(n, path, "a boolean")
	if err != nil {
		return false, err
	}
	b, ok := looseBool[strings.ToLower(sc.raw)]
	if !ok {
		return false, d.errorAt(s, path, "expected a boolean, got %s", describeNode(s)).
			accepting("true, false, yes, no, on, off, y, n")
	}
	return b, nil
}

// integer reads a whole number in [lo, hi].
func (d *taskDecoder) integer(n *yaml.Node, path string, lo, hi int) (int, error) {
	s, sc, err := d.scalarAt(n, path, "an integer")
	if err != nil {
		return 0, err
	}
	if sc.kind != intKind {
		return 0, d.errorAt(s, path, "expected an integer, got %s", describeNode(s))
	}
	if sc.i.Cmp(big.NewInt(int64(lo))) < 0 || sc.i.Cmp(big.NewInt(int64(hi))) > 0 {
		return 0, d.errorAt(s, path, "%s is out of range", sc.text).accepting(rangeText(lo, hi))
	}
	return int(sc.i.Int64()), nil
}

// rangeText describes [lo, hi] for "accepted:".
func rangeText(lo, hi int) string {
	if hi == math.MaxInt32 {
		return fmt.Sprintf("an integer >= %d", lo)
	}
	return fmt.Sprintf("an integer from %d to %d", lo, hi)
}

// number reads a finite integer or decimal number >= 0.
func (d *taskDecoder) number(n *yaml.Node, path string) (float64, error) {
	s, sc, err := d.scalarAt(n, path, "a number")
	if err != nil {
		return 0, err
	}
	if sc.kind != intKind && sc.kind != floatKind {
		return 0, d.errorAt(s, path, "expected a number, got %s", describeNode(s))
	}
	if sc.f < 0 || math.IsInf(sc.f, 0) || math.IsNaN(sc.f) {
		return 0, d.errorAt(s, path, "%s is out of range", sc.raw).accepting("a number >= 0")
	}
	return sc.f, nil
}

// enum reads one of values, in any case, and returns it as listed.
func (d *taskDecoder) enum(n *yaml.Node, path string, values []string) (string, error) {
	s, sc, err := d.scalarAt(n, path, "one of "+strings.Join(values, ", "))
	if err != nil {
		return "", err
	}
	for _, v := range values {
		if strings.EqualFold(v, sc.raw) {
			return v, nil
		}
	}
	return "", d.errorAt(s, path, "%s is not a valid value", describeNode(s)).choices(sc.raw, values)
}

// stringMap reads a mapping of names to strings (labels, image_id by region).
func (d *taskDecoder) stringMap(n *yaml.Node, path string, into map[string]string) error {
	ps, err := d.pairs(n, path)
	if err != nil {
		return err
	}
	for _, p := range ps {
		v, err := d.str(p.val, p.path)
		if err != nil {
			return err
		}
		into[p.name] = v
	}
	return nil
}
