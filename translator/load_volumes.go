package translator

// `volumes:` and `volume_mounts:`. A volume is named (made beforehand, as
// `sky volumes apply` makes it: `/path: name` or `/path: {name, sub_path}`)
// or ephemeral (`/path: {size: 100Gi}`), made for the job. volume_mounts is
// the list SkyPilot writes once it has resolved volumes; it reads the same.

import (
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

var (
	volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	// subPath is SkyPilot's SUB_PATH_PATTERN, less "..".
	subPath = regexp.MustCompile(`^[a-zA-Z0-9_.-]+(?:/[a-zA-Z0-9_.-]+)*/?$`)
)

const volumeNameAccepted = "letters, digits, _ . - (the name the volume was made with)"

// volumeDoc is one volume entry being decoded.
type volumeDoc struct {
	v        task.Volume
	size     *kv
	ignored  []kv
	nameNode *yaml.Node
	// volume_mounts: is_ephemeral, and volume_config.size.
	ephemeral  bool
	configSize *kv
	// key is the entry as written; name is v.Name as written and after
	// $VAR substitution (expandVolumes).
	key  kv
	name expanded
}

var volumeFields = fieldTable[volumeDoc]{
	{"name", func(d *taskDecoder, p kv, vd *volumeDoc) (err error) {
		vd.v.Name, err = d.str(p.val, p.path)
		vd.nameNode = unalias(p.val)
		return err
	}},
	{"sub_path", decodeSubPath},
	{"size", func(_ *taskDecoder, p kv, vd *volumeDoc) error { vd.size = &p; return nil }},
	{"type", ignoredVolumeField},
	{"config", ignoredVolumeField},
	{"labels", ignoredVolumeField},
}

func ignoredVolumeField(_ *taskDecoder, p kv, vd *volumeDoc) error {
	vd.ignored = append(vd.ignored, p)
	return nil
}

func decodeSubPath(d *taskDecoder, p kv, vd *volumeDoc) error {
	s, err := d.str(p.val, p.path)
	if err != nil || s == "" {
		return err
	}
	if !subPath.MatchString(s) || strings.Contains("/"+s+"/", "/../") {
		return d.errorAt(unalias(p.val), p.path, "%q is not a path inside the volume", s).
			accepting("a relative path of letters, digits, _ . - and /, without ..")
	}
	vd.v.SubPath = strings.TrimSuffix(s, "/")
	return nil
}

// decodeVolumes reads `volumes: {PATH: NAME | {name, sub_path} | {size, …}}`.
func decodeVolumes(d *taskDecoder, p kv, td *taskDoc) error {
	if isNullNode(p.val) {
		return nil
	}
	ps, err := d.pairs(p.val, p.path)
	if err != nil {
		return err
	}
	for _, e := range ps {
		var vd volumeDoc
		if m := unalias(e.val); m != nil && m.Kind == yaml.MappingNode {
			if err := decodeMapping(d, m, e.path, volumeFields, &vd); err != nil {
				return err
			}
		} else {
			if vd.v.Name, err = d.str(e.val, e.path); err != nil {
				return err
			}
			vd.nameNode = unalias(e.val)
		}
		vd.key = e
		td.volumes = append(td.volumes, vd)
	}
	return nil
}

// volumeMountFields are the keys of a volume_mounts entry.
var volumeMountFields = fieldTable[volumeDoc]{
	{"path", func(d *taskDecoder, p kv, vd *volumeDoc) (err error) {
		vd.v.Path, err = d.str(p.val, p.path)
		return err
	}},
	{"volume_name", func(d *taskDecoder, p kv, vd *volumeDoc) (err error) {
		vd.v.Name, err = d.str(p.val, p.path)
		vd.nameNode = unalias(p.val)
		return err
	}},
	{"is_ephemeral", func(d *taskDecoder, p kv, vd *volumeDoc) (err error) {
		vd.ephemeral, err = d.boolean(p.val, p.path)
		return err
	}},
	{"sub_path", decodeSubPath},
	{"volume_config", func(d *taskDecoder, p kv, vd *volumeDoc) error {
		ps, err := d.pairs(p.val, p.path)
		if sz := findPair(ps, "size"); err == nil && sz != nil && !isNullNode(sz.val) {
			vd.configSize = sz
		}
		return err // the rest describes where SkyPilot made it
	}},
}

// decodeVolumeMounts reads `volume_mounts: [{path, volume_name, …}]`.
func decodeVolumeMounts(d *taskDecoder, p kv, td *taskDoc) error {
	if isNullNode(p.val) {
		return nil
	}
	items, err := d.items(p.val, p.path)
	if err != nil {
		return err
	}
	for i, item := range items {
		e := kv{key: unalias(item), val: item, path: fmt.Sprintf("%s[%d]", p.path, i)}
		var vd volumeDoc
		if err := decodeMapping(d, item, e.path, volumeMountFields, &vd); err != nil {
			return err
		}
		e.name = vd.v.Path
		if vd.ephemeral {
			if vd.configSize == nil {
				return d.errorAt(e.key, e.path, "an ephemeral volume needs its size (volume_config.size)")
			}
			vd.size = vd.configSize
		}
		vd.key = e
		td.volumes = append(td.volumes, vd)
	}
	return nil
}

// addVolume checks one entry (at e, whose name is the mount path) and adds
// it to the task.
// expandVolumes substitutes $VAR from envs and secrets into each
// volume's path and name, as SkyPilot does, then checks and adds it.
func (d *taskDecoder) expandVolumes(td *taskDoc) error {
	vars := newSubstVars(td.t.Envs, td.t.Secrets)
	for _, vd := range td.volumes {
		e := vd.key
		e.name = vars.expand(e.name).value
		vd.name = vars.expand(vd.v.Name)
		vd.v.Name = vd.name.value
		if err := d.addVolume(td, e, vd); err != nil {
			return err
		}
	}
	return nil
}

func (d *taskDecoder) addVolume(td *taskDoc, e kv, vd volumeDoc) error {
	v := vd.v
	v.Path = e.name
	switch {
	case !path.IsAbs(v.Path):
		return d.errorAt(e.key, e.path, "volumes are mounted at an absolute path, not %q", v.Path).accepting("/path: volume-name")
	case v.Path == "/":
		return d.errorAt(e.key, e.path, "a volume cannot be mounted at /")
	}
	v.Path = path.Clean(v.Path)
	for _, other := range td.t.Volumes {
		if other.Path == v.Path {
			return d.errorAt(e.key, e.path, "%s is the mount path of another volume", v.Path)
		}
	}
	if vd.size != nil {
		if v.Name != "" {
			d.warnAt(vd.nameNode, joinPath(e.path, "name"), "ignored: a volume with a size is ephemeral, made for the job, and has no name")
			v.Name = ""
		}
		gb, err := d.volumeSize(*vd.size)
		if err != nil {
			return err
		}
		v.SizeGB = gb
	} else if !volumeName.MatchString(v.Name) {
		at := vd.nameNode
		if at == nil {
			at = unalias(e.val)
		}
		what := "a volume needs a name, or a size for an ephemeral one"
		if v.Name != "" {
			what = vd.name.quoted() + " is not a volume name"
		}
		return d.errorAt(at, e.path, "%s", what).accepting(volumeNameAccepted + "; or {size: 100Gi} for an ephemeral volume")
	}
	for _, ig := range vd.ignored {
		d.warnAt(ig.key, ig.path, "has no effect on Nomad; ignored")
	}
	td.t.Volumes = append(td.t.Volumes, v)
	return nil
}

// volumeSize reads an ephemeral volume's size in whole GB (rounded up, at
// least 1), as SkyPilot does: 100, "100Gi", "1TB".
func (d *taskDecoder) volumeSize(p kv) (int, error) {
	s, err := d.text(p.val, p.path, "a size")
	if err != nil {
		return 0, err
	}
	gb, _, ok := parseAmount(s, volumeUnits, false)
	if !ok || gb > math.MaxInt32 {
		return 0, d.errorAt(unalias(p.val), p.path, "%q is not a size", s).accepting("a size in GB, optional unit (e.g. 100, 100Gi, 1TB)")
	}
	return max(1, int(math.Ceil(gb))), nil
}

// volumeUnits are the size units, with Kubernetes' Ki, Mi, Gi, Ti, Pi.
var volumeUnits = func() map[string]float64 {
	units := maps.Clone(sizeUnits)
	for _, u := range []string{"k", "m", "g", "t", "p"} {
		units[u+"i"] = sizeUnits[u]
	}
	return units
}()
