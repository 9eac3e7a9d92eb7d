package translator

import (
	"cmp"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/internal/bucketname"
	"github.com/skynomad/skynomad/task"
)

// A task's workdir and file_mounts are read in two steps: their shape as
// the file is read (decodeWorkdir, decodeMounts), then, once envs and
// secrets are known, their $VAR references are substituted and the
// values checked (expandFiles). An error about a value is located where
// it was written and says what its variables held.

// textAt is a string as written and where.
type textAt struct {
	node *yaml.Node
	path string
	text string
	// flag: the value came from the command line, which is not
	// substituted (SkyPilot's --workdir is not).
	flag bool
}

// filesDecl is a task's workdir and file_mounts as written.
type filesDecl struct {
	workdir *workdirDecl
	mounts  []mountDecl
}

// workdirDecl is `workdir: PATH` or `workdir: {url, ref}`.
type workdirDecl struct {
	path, url, ref *textAt
	// expandedPath is the path after substitution, for messages.
	expandedPath expanded
}

// mountDecl is one file_mounts entry.
type mountDecl struct {
	dest textAt
	// val is the entry's value: the mapping of a bucket mount.
	val     *yaml.Node
	mapping bool
	// source is `DST: SRC` or a mapping's string source; sources a
	// mapping's source list.
	source                        *textAt
	sources                       []textAt
	name, store, mode, persistent *textAt
	// After substitution, for messages.
	expandedSource  expanded
	expandedSources []expanded
}

// readText reads a string field: nil when null.
func (d *taskDecoder) readText(n *yaml.Node, path string) (*textAt, error) {
	if isNullNode(n) {
		return nil, nil
	}
	s, err := d.str(n, path)
	if err != nil {
		return nil, err
	}
	return &textAt{node: unalias(n), path: path, text: s, flag: unalias(n).Line == 0}, nil
}

// textField is a table entry that keeps a string field as written.
func textField[T any](name string, field func(*T) **textAt) fieldSpec[T] {
	return fieldSpec[T]{name, func(d *taskDecoder, p kv, dst *T) (err error) {
		*field(dst), err = d.readText(p.val, p.path)
		return err
	}}
}

// workdirFields are the keys of a git workdir.
var workdirFields = fieldTable[workdirDecl]{
	textField("url", func(w *workdirDecl) **textAt { return &w.url }),
	textField("ref", func(w *workdirDecl) **textAt { return &w.ref }),
}

// decodeWorkdir reads `workdir: PATH` or `workdir: {url, ref}`.
func decodeWorkdir(d *taskDecoder, p kv, td *taskDoc) error {
	n, path := p.val, p.path
	td.files.workdir = nil
	td.workdir = at{val: n, path: path}
	if m := unalias(n); m != nil && m.Kind == yaml.MappingNode {
		var w workdirDecl
		if err := decodeMapping(d, m, path, workdirFields, &w); err != nil {
			return err
		}
		if w.url == nil || w.url.text == "" {
			return d.errorAt(m, path+".url", "a git workdir needs a url")
		}
		td.files.workdir = &w
		return nil
	}
	dir, err := d.readText(n, path)
	if err == nil && dir != nil && dir.text != "" {
		td.files.workdir = &workdirDecl{path: dir}
	}
	return err
}

// Bucket stores and mount modes accepted in file_mounts.
var (
	bucketStores = []string{"s3", "gcs", "azure", "r2", "ibm", "oci", "nebius"}
	mountModes   = []string{string(task.MountModeMount), string(task.MountModeCopy), string(task.MountModeMountCached)}
)

// bucketFields are the keys of a bucket file mount.
var bucketFields = fieldTable[mountDecl]{
	textField("name", func(m *mountDecl) **textAt { return &m.name }),
	{"source", decodeMountSource},
	textField("store", func(m *mountDecl) **textAt { return &m.store }),
	textField("mode", func(m *mountDecl) **textAt { return &m.mode }),
	{"persistent", func(d *taskDecoder, p kv, m *mountDecl) error {
		// A boolean, or a string that holds one once substituted.
		if isNullNode(p.val) {
			return nil
		}
		s, sc, err := d.scalarAt(p.val, p.path, "a boolean")
		if err == nil {
			m.persistent = &textAt{node: s, path: p.path, text: sc.raw}
		}
		return err
	}},
}

// decodeMountSource reads a bucket's `source`: a path or URL, or a list of
// local paths.
func decodeMountSource(d *taskDecoder, p kv, m *mountDecl) error {
	s := unalias(p.val)
	if s == nil || s.Kind != yaml.SequenceNode {
		var err error
		m.source, err = d.readText(p.val, p.path)
		return err
	}
	if len(s.Content) == 0 {
		return d.errorAt(s, p.path, "an empty list").accepting("a path or bucket URL, or a list of one or more local paths")
	}
	m.sources = nil
	for _, item := range oneOrMany(p) {
		t, err := d.readText(item.val, item.path)
		if err != nil {
			return err
		}
		if t == nil || t.text == "" {
			return d.errorAt(unalias(item.val), item.path, "a source list holds local paths, got %s", describeNode(item.val))
		}
		m.sources = append(m.sources, *t)
	}
	return nil
}

// decodeMounts reads `file_mounts: {DST: SRC | {bucket}}`.
func decodeMounts(d *taskDecoder, p kv, td *taskDoc) error {
	n, path := p.val, p.path
	td.files.mounts, td.mounts = nil, nil
	if isNullNode(n) {
		return nil
	}
	ps, err := d.pairs(n, path)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.name == "" {
			return d.errorAt(p.key, p.path, "a file mount needs a destination path")
		}
		md := mountDecl{dest: textAt{node: p.key, path: p.path, text: p.name}, val: unalias(p.val)}
		if v := unalias(p.val); v != nil && v.Kind == yaml.MappingNode {
			md.mapping = true
			if err := decodeMapping(d, v, p.path, bucketFields, &md); err != nil {
				return err
			}
		} else if md.source, err = d.readText(p.val, p.path); err != nil {
			return err
		} else if md.source == nil || md.source.text == "" {
			return d.errorAt(unalias(p.val), p.path, "a file mount needs a source (a local path, a bucket URL or a bucket mapping)")
		}
		td.files.mounts = append(td.files.mounts, md)
		td.mounts = append(td.mounts, at{val: p.val, path: p.path})
	}
	return nil
}

// expandFiles substitutes envs and secrets into the task's workdir and
// file mounts and checks the values.
func (d *taskDecoder) expandFiles(td *taskDoc) error {
	vars := newSubstVars(td.t.Envs, td.t.Secrets)
	td.t.Workdir = nil
	if w := td.files.workdir; w != nil {
		wd, err := d.expandWorkdir(w, vars)
		if err != nil {
			return err
		}
		td.t.Workdir = wd
	}
	td.t.Mounts = nil
	for i := range td.files.mounts {
		m, err := d.expandMount(&td.files.mounts[i], vars)
		if err != nil {
			return err
		}
		td.t.Mounts = append(td.t.Mounts, m)
	}
	return nil
}

func (d *taskDecoder) expandWorkdir(w *workdirDecl, vars substVars) (*task.Workdir, error) {
	if w.path != nil {
		w.expandedPath = vars.expandText(w.path)
		if w.expandedPath.value == "" {
			return nil, d.errorAt(w.path.node, w.path.path, "%s is empty", w.expandedPath.quoted()).
				accepting("a local directory, or {url, ref} for a git repository")
		}
		return &task.Workdir{Path: w.expandedPath.value}, nil
	}
	url := vars.expandText(w.url)
	if url.value == "" {
		return nil, d.errorAt(w.url.node, w.url.path, "%s is empty", url.quoted()).accepting("a git repository URL")
	}
	return &task.Workdir{GitURL: url.value, GitRef: vars.expandText(w.ref).value}, nil
}

// expandMount substitutes into one file mount and checks it as SkyPilot
// checks a storage spec.
func (d *taskDecoder) expandMount(md *mountDecl, vars substVars) (task.Mount, error) {
	dest := vars.expandText(&md.dest)
	if dest.value == "" {
		return task.Mount{}, d.errorAt(md.dest.node, md.dest.path, "the destination %s is empty", dest.quoted())
	}
	m := task.Mount{Dest: dest.value}
	if md.source != nil {
		md.expandedSource = vars.expandText(md.source)
		m.Source = md.expandedSource.value
	}
	if !md.mapping {
		if m.Source == "" {
			return task.Mount{}, d.errorAt(md.source.node, md.source.path, "the source %s is empty", md.expandedSource.quoted()).
				accepting("a local path, a bucket URL or a bucket mapping")
		}
		return m, nil
	}
	var err error
	if m.Store, err = d.expandChoice(md.store, vars, "a store", bucketStores, strings.ToLower); err != nil {
		return task.Mount{}, err
	}
	mode, err := d.expandChoice(md.mode, vars, "a mount mode", mountModes, strings.ToUpper)
	if err != nil {
		return task.Mount{}, err
	}
	m.Mode = task.MountMode(cmp.Or(mode, string(task.MountModeMount)))
	if md.persistent != nil {
		p := vars.expandText(md.persistent)
		b, ok := looseBool[strings.ToLower(p.value)]
		if !ok {
			return task.Mount{}, d.errorAt(md.persistent.node, md.persistent.path, "expected a boolean, got %s", p.quoted()).
				accepting("true, false, yes, no, on, off, y, n")
		}
		m.Persistent = &b
	}
	name := vars.expandText(md.name)
	m.BucketName = name.value
	if err := d.checkSources(md, &m, vars); err != nil {
		return task.Mount{}, err
	}
	return m, d.checkBucketName(md, m, name)
}

// expandChoice substitutes into an enum field and returns the choice it
// names ("" when unset), compared after fold.
func (d *taskDecoder) expandChoice(t *textAt, vars substVars, what string, choices []string, fold func(string) string) (string, error) {
	if t == nil {
		return "", nil
	}
	e := vars.expandText(t)
	if i := slices.Index(choices, fold(e.value)); i >= 0 {
		return choices[i], nil
	}
	return "", d.errorAt(t.node, t.path, "%s is not %s", e.quoted(), what).choices(e.value, choices)
}

// checkSources checks a bucket mount's sources as SkyPilot's storage
// spec does: a local source needs a name (the bucket it is uploaded to);
// a bucket URL names its bucket itself; a list holds local paths of
// distinct base names, none ending in a slash.
func (d *taskDecoder) checkSources(md *mountDecl, m *task.Mount, vars substVars) error {
	switch {
	case md.name == nil && md.source == nil && md.sources == nil:
		return d.errorAt(md.val, md.dest.path, "a bucket mount needs a name or a source").
			accepting("name: a bucket to create or use, source: a bucket URL or local path(s), or both name and local source(s)")
	case md.source != nil && m.Source == "":
		return d.errorAt(md.source.node, md.source.path, "the source %s is empty", md.expandedSource.quoted())
	case m.Source != "" && !m.LocalSource() && md.name != nil:
		return d.errorAt(md.name.node, md.name.path, "a bucket mount whose source is a bucket URL (%s) takes no name: the URL names the bucket", md.expandedSource.quoted()).
			accepting("source: a bucket URL alone, or name with a local source")
	case (m.LocalSource() || md.sources != nil) && m.BucketName == "":
		at := textAt{node: md.val, path: md.dest.path + ".source"}
		if md.source != nil {
			at = *md.source
		}
		return d.errorAt(at.node, at.path, "a bucket mount with a local source needs a name: the bucket the files are uploaded to").
			accepting("name: my-bucket beside the source, or `DST: ./path` to copy the files without a bucket")
	}
	seen := map[string]string{}
	md.expandedSources = nil
	for _, t := range md.sources {
		e := vars.expandText(&t)
		md.expandedSources = append(md.expandedSources, e)
		switch {
		case e.value == "":
			return d.errorAt(t.node, t.path, "the source %s is empty", e.quoted())
		case strings.Contains(e.value, "://"):
			return d.errorAt(t.node, t.path, "%s is a URL; a source list holds local paths, uploaded to the bucket", e.quoted()).
				accepting("local paths in the list, or source: URL (not a list) to mount an existing bucket")
		case strings.HasSuffix(e.value, "/") && e.value != "/":
			return d.errorAt(t.node, t.path, "%s ends with a slash", e.quoted()).
				accepting("the path without the trailing slash: the directory is uploaded as <bucket>/<its name>")
		}
		base := filepath.Base(filepath.Clean(e.value))
		if first, dup := seen[base]; dup {
			return d.errorAt(t.node, t.path, "%s has the same name (%s) as %s: both would be uploaded to <bucket>/%s", e.quoted(), base, first, base).
				accepting("paths with distinct base names")
		}
		seen[base] = t.path
		m.Sources = append(m.Sources, task.ListedSource{Path: e.value, Name: base})
	}
	return nil
}

// checkBucketName checks a bucket name against its store's rules (S3 or
// GCS; either, with no store: the job-files bucket's kind is used).
func (d *taskDecoder) checkBucketName(md *mountDecl, m task.Mount, name expanded) error {
	if md.name == nil {
		return nil
	}
	if strings.Contains(m.BucketName, "://") {
		return d.errorAt(md.name.node, md.name.path, "%s is a URL, not a bucket name", name.quoted()).
			accepting("a bucket name with store: s3|gcs|... to create or use it, or source: URL for an existing bucket")
	}
	var err error
	switch m.Store {
	case "s3":
		err = bucketname.Check("s3", m.BucketName)
	case "gcs":
		err = bucketname.Check("gs", m.BucketName)
	case "":
		if err = bucketname.Check("s3", m.BucketName); err != nil && bucketname.Check("gs", m.BucketName) == nil {
			err = nil
		}
	}
	if be, ok := errors.AsType[*bucketname.Error](err); ok {
		return d.errorAt(md.name.node, md.name.path, "%s is not a valid bucket name: %s", name.quoted(), be.Why).
			accepting(bucketname.Rules + " (GCS also allows _)")
	}
	return nil
}
