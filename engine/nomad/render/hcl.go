package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// JobJSON renders a job as the body `nomad job run -json` and
// POST /v1/jobs accept: {"Job": {...}}, indented by two spaces. Unset
// (null) fields are left out, as in a hand-written request.
func JobJSON(job *api.Job) ([]byte, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct{ Job *api.Job }{job}); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	var pruned bytes.Buffer
	if err := dropNulls(&pruned, raw.Bytes()); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, pruned.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// dropNulls copies the JSON value raw to w, leaving out object members whose
// value is null, in their original order. Scalars are copied byte for byte.
func dropNulls(w *bytes.Buffer, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		w.Write(raw)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	open, err := dec.Token()
	if err != nil {
		return err
	}
	w.WriteString(open.(json.Delim).String())
	for i := 0; dec.More(); {
		var key json.RawMessage
		if open == json.Delim('{') {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			if key, err = marshalPlain(k); err != nil {
				return err
			}
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return err
		}
		if key != nil && string(val) == "null" {
			continue
		}
		if i++; i > 1 {
			w.WriteByte(',')
		}
		if key != nil {
			w.Write(key)
			w.WriteByte(':')
		}
		if err := dropNulls(w, val); err != nil {
			return err
		}
	}
	if open == json.Delim('{') {
		w.WriteByte('}')
	} else {
		w.WriteByte(']')
	}
	return nil
}

// marshalPlain encodes v without escaping <, > and &.
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// JobHCL renders a job as an HCL2 jobspec for `nomad job run`. It walks
// the api types' own `hcl` tags: set pointers, non-empty values, blocks for
// structs, `meta = {...}` / `env = {...}` for maps (their keys hold dots),
// heredocs for multi-line text. Every "${" and "%{" is escaped as "$${" and
// "%%{", so Nomad's runtime references such as ${NOMAD_TASK_DIR} and
// ${node.class} reach the job as written rather than being read as HCL.
func JobHCL(job *api.Job) ([]byte, error) {
	if job.ID == nil {
		return nil, fmt.Errorf("render jobspec: the job has no ID")
	}
	f := hclwrite.NewEmptyFile()
	block := f.Body().AppendNewBlock("job", []string{*job.ID})
	skip := map[string]bool{"id": true}
	if job.Name != nil && *job.Name == *job.ID {
		skip["name"] = true
	}
	if err := writeBody(block.Body(), reflect.ValueOf(job).Elem(), skip); err != nil {
		return nil, fmt.Errorf("render jobspec %s: %w", *job.ID, err)
	}
	return hclwrite.Format(f.Bytes()), nil
}

// hclField is one field's `hcl:"name,kind"` tag.
type hclField struct {
	name, kind string
	index      int
}

func hclFields(t reflect.Type) []hclField {
	var fs []hclField
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("hcl")
		if !ok {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		fs = append(fs, hclField{name: name, kind: kind, index: i})
	}
	return fs
}

// blockRank orders blocks: groups and tasks after everything else.
func blockRank(block string) int {
	if block == "group" || block == "task" {
		return 1
	}
	return 0
}

var durationType = reflect.TypeFor[time.Duration]()

// jobspecBlocks are the blocks a jobspec names otherwise than the api
// types' tags: a network's static ports are `port "label" { static = N }`
// blocks, as its dynamic ones.
var jobspecBlocks = map[string]string{"reserved_ports": "port"}

// writeBody writes the tagged fields of struct v: attributes first (in field
// order), then blocks, as jobspecs are usually laid out.
func writeBody(body *hclwrite.Body, v reflect.Value, skip map[string]bool) error {
	fields := hclFields(v.Type())
	var blocks []hclField
	for _, f := range fields {
		fv := v.Field(f.index)
		if f.kind == "label" || skip[f.name] || fv.IsZero() {
			continue
		}
		if f.kind == "block" && isBlock(fv.Type()) {
			blocks = append(blocks, f)
			continue
		}
		if err := writeAttr(body, f.name, fv); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	// Groups and tasks last: a group's restart policy reads before its tasks.
	slices.SortStableFunc(blocks, func(a, b hclField) int {
		return cmp.Compare(blockRank(a.name), blockRank(b.name))
	})
	for _, f := range blocks {
		name := f.name
		if jobspec, ok := jobspecBlocks[name]; ok {
			name = jobspec
		}
		if err := writeBlocks(body, name, v.Field(f.index)); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// isBlock: structs, and lists and maps of structs (a group's volumes), are
// blocks; maps of values (meta, env, config) are written as attributes or,
// for config, as a block of attributes.
func isBlock(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t != reflect.TypeFor[map[string]any]() {
		return isBlock(t.Elem()) && t.Elem().Kind() != reflect.Map
	}
	return t.Kind() == reflect.Struct || t == reflect.TypeFor[map[string]any]()
}

func writeBlocks(body *hclwrite.Body, name string, v reflect.Value) error {
	if v.Kind() == reflect.Slice {
		for i := range v.Len() {
			if err := writeBlocks(body, name, v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if v.Kind() == reflect.Map && v.Type() != reflect.TypeFor[map[string]any]() {
		// Blocks by name (a group's volumes), in key order; each block
		// carries its name as its label.
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := writeBlocks(body, name, v.MapIndex(k)); err != nil {
				return err
			}
		}
		return nil
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if len(body.Attributes()) > 0 || len(body.Blocks()) > 0 {
		body.AppendNewline()
	}
	if v.Kind() == reflect.Map {
		// config { ... }: driver settings, keys sorted.
		block := body.AppendNewBlock(name, nil)
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := writeAttr(block.Body(), k, v.MapIndex(reflect.ValueOf(k))); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	}
	var labels []string
	for _, f := range hclFields(v.Type()) {
		if f.kind == "label" {
			labels = append(labels, reflect.Indirect(v.Field(f.index)).String())
		}
	}
	block := body.AppendNewBlock(name, labels)
	return writeBody(block.Body(), v, nil)
}

func writeAttr(body *hclwrite.Body, name string, v reflect.Value) error {
	toks, err := tokensFor(v)
	if err != nil {
		return err
	}
	body.SetAttributeRaw(name, toks)
	return nil
}

// tokensFor renders a Go value as an HCL expression.
func tokensFor(v reflect.Value) (hclwrite.Tokens, error) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Type() == durationType {
		return hclwrite.TokensForValue(cty.StringVal(time.Duration(v.Int()).String())), nil
	}
	switch v.Kind() {
	case reflect.String:
		return stringTokens(v.String()), nil
	case reflect.Bool:
		return hclwrite.TokensForValue(cty.BoolVal(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return hclwrite.TokensForValue(cty.NumberIntVal(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return hclwrite.TokensForValue(cty.NumberUIntVal(v.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return hclwrite.TokensForValue(cty.NumberFloatVal(v.Float())), nil
	case reflect.Slice:
		elems := make([]hclwrite.Tokens, v.Len())
		for i := range v.Len() {
			t, err := tokensFor(v.Index(i))
			if err != nil {
				return nil, err
			}
			elems[i] = t
		}
		return hclwrite.TokensForTuple(elems), nil
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		attrs := make([]hclwrite.ObjectAttrTokens, len(keys))
		for i, k := range keys {
			t, err := tokensFor(v.MapIndex(reflect.ValueOf(k)))
			if err != nil {
				return nil, err
			}
			attrs[i] = hclwrite.ObjectAttrTokens{Name: hclwrite.TokensForValue(cty.StringVal(k)), Value: t}
		}
		return hclwrite.TokensForObject(attrs), nil
	}
	return nil, fmt.Errorf("no HCL form for a %s", v.Type())
}

// stringTokens writes multi-line text as a heredoc when it reads back
// unchanged (it ends with a newline and holds no other control character
// than tab), else as a quoted string.
func stringTokens(s string) hclwrite.Tokens {
	if !heredocSafe(s) {
		return hclwrite.TokensForValue(cty.StringVal(s))
	}
	delim := "EOT"
	for i := 1; hasLine(s, delim); i++ {
		delim = "EOT" + strconv.Itoa(i)
	}
	body := strings.NewReplacer("${", "$${", "%{", "%%{").Replace(s)
	return hclwrite.Tokens{
		{Type: hclsyntax.TokenOHeredoc, Bytes: []byte("<<" + delim + "\n")},
		{Type: hclsyntax.TokenStringLit, Bytes: []byte(body)},
		{Type: hclsyntax.TokenCHeredoc, Bytes: []byte(delim)},
	}
}

func heredocSafe(s string) bool {
	if !strings.Contains(s, "\n") || !strings.HasSuffix(s, "\n") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// hasLine reports whether a line of s, trimmed, is delim (it would close
// the heredoc early).
func hasLine(s, delim string) bool {
	for line := range strings.Lines(s) {
		if strings.TrimSpace(line) == delim {
			return true
		}
	}
	return false
}
