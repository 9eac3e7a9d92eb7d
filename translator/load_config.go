package translator

// A task's `config:`: SkyPilot's config schema (~/.sky/config.yaml) nested
// under the task. docker.run_options and <cloud>.labels take effect; every
// other key is accepted with one warning naming it.

import (
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// taskConfig is what a task's `config:` holds that takes effect.
type taskConfig struct {
	docker *task.DockerOptions
	// dockerKey is where docker.run_options was written, for the warning
	// about a task that runs in no image.
	dockerKey *yaml.Node
	// cloudLabels are <cloud>.labels of the clouds skynomad runs on.
	cloudLabels map[string]map[string]string
}

// configValue is the YAML shape SkyPilot's schema wants for a key.
type configValue int

const (
	anyValue configValue = iota
	mappingValue
	listValue
	stringValue
	boolValue
	intValue
)

func (v configValue) String() string {
	return [...]string{"any value", "a mapping", "a list", "a string", "a boolean", "an integer"}[v]
}

// configSections are the top-level keys of SkyPilot's config schema and
// the shape of each; a section's keys are listed where SkyPilot's schema
// fixes their shape (others are accepted as they are).
var configSections = map[string]configSection{
	"docker":           {value: mappingValue, keys: map[string]configValue{"run_options": anyValue}, closed: true},
	"nvidia_gpus":      {value: mappingValue, keys: map[string]configValue{"disable_ecc": boolValue}, closed: true},
	"aws":              {value: mappingValue, keys: cloudKeys(map[string]configValue{"use_ssm": boolValue, "disk_encrypted": boolValue, "post_provision_runcmd": listValue, "enforce_tags": listValue})},
	"gcp":              {value: mappingValue, keys: cloudKeys(map[string]configValue{"managed_instance_group": mappingValue, "enable_gvnic": boolValue, "enable_gpu_direct": boolValue, "placement_policy": stringValue, "force_enable_external_ips": boolValue})},
	"azure":            {value: mappingValue, keys: cloudKeys(map[string]configValue{"storage_account": stringValue, "resource_group_vm": stringValue})},
	"kubernetes":       {value: mappingValue, keys: kubernetesKeys},
	"ssh":              {value: mappingValue, keys: kubernetesKeys},
	"slurm":            {value: mappingValue},
	"oci":              {value: mappingValue},
	"vast":             {value: mappingValue, keys: map[string]configValue{"datacenter_only": boolValue, "create_instance_kwargs": mappingValue}},
	"nebius":           {value: mappingValue},
	"jobs":             {value: mappingValue, keys: map[string]configValue{"controller": mappingValue, "bucket": stringValue}},
	"serve":            {value: mappingValue, keys: map[string]configValue{"controller": mappingValue}},
	"provision":        {value: mappingValue, keys: map[string]configValue{"ssh_timeout": intValue, "install_conda": boolValue}},
	"api_server":       {value: mappingValue},
	"workspaces":       {value: mappingValue},
	"workspace_config": {value: mappingValue},
	"rbac":             {value: mappingValue},
	"logs":             {value: mappingValue},
	"daemons":          {value: mappingValue},
	"data":             {value: mappingValue},
	"dashboard":        {value: mappingValue},
	"metrics":          {value: mappingValue},
	"plugins":          {value: mappingValue},
	"allowed_clouds":   {value: listValue},
	"admin_policy":     {value: stringValue},
	"active_workspace": {value: stringValue},
	"workspace":        {value: stringValue},
	"db":               {value: stringValue},
	"hooks":            {value: listValue},
}

// configSection is one top-level key of `config:`.
type configSection struct {
	value configValue
	keys  map[string]configValue
	// closed: a key not in keys is refused (SkyPilot's schema allows no
	// other there).
	closed bool
}

// cloudKeys are the keys every cloud section shares, plus its own.
func cloudKeys(own map[string]configValue) map[string]configValue {
	keys := map[string]configValue{
		"labels": mappingValue, "instance_tags": mappingValue,
		"prioritize_reservations": boolValue, "specific_reservations": listValue,
		"use_internal_ips": boolValue, "capabilities": listValue,
		"remote_identity": anyValue, "vpc_name": anyValue, "subnet_names": anyValue, "ssh_proxy_command": anyValue,
	}
	maps.Copy(keys, own)
	return keys
}

var kubernetesKeys = map[string]configValue{
	"pod_config": mappingValue, "custom_metadata": mappingValue, "provision_timeout": intValue,
	"dws": mappingValue, "kueue": mappingValue, "context_configs": mappingValue,
	"allowed_contexts": anyValue, "networking": stringValue, "ports": stringValue,
}

// labelClouds are the clouds whose <cloud>.labels reach the instances.
var labelClouds = []string{"aws", "gcp"}

// decodeConfig reads `config:`. Keys with no effect are warned about here,
// in the order written; the rest is applied once the resources are known
// (applyConfig).
func decodeConfig(d *taskDecoder, p kv, td *taskDoc) error {
	td.config = nil
	if isNullNode(p.val) {
		return nil
	}
	sections, err := d.pairs(p.val, p.path)
	if err != nil {
		return err
	}
	cfg := &taskConfig{}
	for _, sec := range sections {
		spec, ok := configSections[sec.name]
		if !ok {
			return d.errorAt(sec.key, sec.path, "not a key of SkyPilot's config").choices(sec.name, sortedCopy(slices.Collect(maps.Keys(configSections))))
		}
		if isNullNode(sec.val) {
			continue
		}
		if err := d.checkConfigValue(sec.val, sec.path, spec.value); err != nil {
			return err
		}
		if spec.value != mappingValue {
			d.warnAt(sec.key, sec.path, "has no effect on Nomad; ignored")
			continue
		}
		keys, err := d.pairs(sec.val, sec.path)
		if err != nil {
			return err
		}
		for _, k := range keys {
			want, known := spec.keys[k.name]
			if !known && spec.closed {
				return d.errorAt(k.key, k.path, "not a key of SkyPilot's config").choices(k.name, sortedCopy(slices.Collect(maps.Keys(spec.keys))))
			}
			if isNullNode(k.val) {
				continue
			}
			if err := d.checkConfigValue(k.val, k.path, want); err != nil {
				return err
			}
			applied, err := d.configKey(cfg, sec.name, k)
			if err != nil {
				return err
			}
			if !applied {
				d.warnAt(k.key, k.path, "has no effect on Nomad; ignored")
			}
		}
	}
	td.config = cfg
	return nil
}

// configKey applies one key of a section, reporting whether it takes
// effect on Nomad.
func (d *taskDecoder) configKey(cfg *taskConfig, section string, k kv) (bool, error) {
	switch {
	case section == "docker" && k.name == "run_options":
		opts, err := d.dockerRunOptions(k)
		if err != nil {
			return false, err
		}
		cfg.docker, cfg.dockerKey = opts, k.key
		return true, nil
	case (k.name == "labels" || k.name == "instance_tags") && slices.Contains(labelClouds, section):
		labels := map[string]string{}
		if err := d.stringMap(k.val, k.path, labels); err != nil {
			return false, err
		}
		if cfg.cloudLabels == nil {
			cfg.cloudLabels = map[string]map[string]string{}
		}
		if cfg.cloudLabels[section] == nil {
			cfg.cloudLabels[section] = map[string]string{}
		}
		maps.Copy(cfg.cloudLabels[section], labels)
		return true, nil
	}
	return false, nil
}

// checkConfigValue refuses a value of another shape than SkyPilot's
// schema wants.
func (d *taskDecoder) checkConfigValue(n *yaml.Node, path string, want configValue) error {
	m := unalias(n)
	var ok bool
	switch want {
	case anyValue:
		return nil
	case mappingValue:
		ok = m.Kind == yaml.MappingNode
	case listValue:
		ok = m.Kind == yaml.SequenceNode
	case stringValue:
		_, err := d.str(m, path)
		return err
	case boolValue:
		_, err := d.boolean(m, path)
		return err
	case intValue:
		_, err := d.integer(m, path, -1<<31, 1<<31-1)
		return err
	}
	if !ok {
		return d.errorAt(m, path, "expected %s, got %s", want, describeNode(m))
	}
	return nil
}

// applyConfig applies what `config:` holds once the task's resources are
// known: docker options to a task in an image, labels to every resource
// request.
func (d *taskDecoder) applyConfig(td *taskDoc) {
	cfg := td.config
	if cfg == nil {
		return
	}
	if cfg.docker != nil {
		inImage := td.t.Resources.DockerImage() != "" ||
			slices.ContainsFunc(td.t.Candidates, func(r task.Resources) bool { return r.DockerImage() != "" })
		if inImage {
			td.t.Docker = cfg.docker
		} else {
			d.warnAt(cfg.dockerKey, "config.docker.run_options",
				"applies to a task that runs in a docker image (resources.image_id: docker:<image>); this task runs in none: ignored")
		}
	}
	if len(cfg.cloudLabels) > 0 {
		withLabels := func(r *task.Resources) {
			r.CloudLabels = make(map[string]map[string]string, len(cfg.cloudLabels))
			for cloud, labels := range cfg.cloudLabels {
				r.CloudLabels[cloud] = maps.Clone(labels)
			}
		}
		withLabels(&td.t.Resources)
		for i := range td.t.Candidates {
			withLabels(&td.t.Candidates[i])
		}
	}
}
