package translator

// Keys SkyPilot still reads under an old name, and top-level keys that
// mean nothing on skynomad: each is accepted with one located warning
// (through LoadOptions.Warn), worded like SkyPilot's where it has one.

// renamedResourceKeys maps an old resources key to the key it became.
var renamedResourceKeys = map[string]string{
	"spot_recovery": "job_recovery",
}

// foldRenamedResourceKeys reads old resources keys under their current
// name, warning once for each; giving both names is an error, as in
// SkyPilot's schema.
func (d *taskDecoder) foldRenamedResourceKeys(ps []kv) error {
	for i := range ps {
		current, ok := renamedResourceKeys[ps[i].name]
		if !ok {
			continue
		}
		if other := findPair(ps, current); other != nil {
			return d.errorAt(ps[i].key, ps[i].path, "%s is the old name of %s, given too (line %d); give only %s", ps[i].name, current, other.key.Line, current).
				accepting(current)
		}
		d.warnAt(ps[i].key, ps[i].path, "%s is deprecated. Use %s instead (the system is defaulting to that for you).", ps[i].name, current)
		ps[i].name = current
	}
	return nil
}

// decodeEventCallback accepts `event_callback: <bash command>`, which
// SkyPilot's jobs controller runs when a task's status changes.
func decodeEventCallback(d *taskDecoder, p kv, _ *taskDoc) error {
	cmd, err := d.str(p.val, p.path)
	if err != nil || cmd == "" {
		return err
	}
	d.warnAt(p.key, p.path, "ignored: skynomad's controller runs no event callback; the task runs without it")
	return nil
}

// decodeDataEstimate accepts `inputs:` / `outputs:`, one `PATH: SIZE_GB`
// entry that SkyPilot's optimizer uses only to price moving the data
// between clouds.
func decodeDataEstimate(d *taskDecoder, p kv, _ *taskDoc) error {
	if isNullNode(p.val) {
		return nil
	}
	ps, err := d.pairs(p.val, p.path)
	if err != nil {
		return err
	}
	if len(ps) != 1 {
		return d.errorAt(unalias(p.val), p.path, "holds %d entries; SkyPilot allows exactly one", len(ps)).
			accepting("one PATH: SIZE_GB entry, e.g. s3://my-data: 120")
	}
	if _, err := d.number(ps[0].val, ps[0].path); err != nil {
		return err
	}
	d.warnAt(p.key, p.path, "ignored: SkyPilot uses it only to estimate the cost of moving the data between clouds, which skynomad's optimizer does not price")
	return nil
}

// decodeAPIServerAccess accepts `api_server_access: BOOL`: whether
// SkyPilot gives the task its API server's credentials so the task can
// run sky itself. skynomad has no API server to share: false is what it
// does anyway.
func decodeAPIServerAccess(d *taskDecoder, p kv, _ *taskDoc) error {
	on, err := d.boolean(p.val, p.path)
	if err != nil || !on {
		return err
	}
	d.warnAt(p.key, p.path, "has no effect on skynomad: a task gets no SkyPilot API server credentials, so it cannot launch SkyPilot operations of its own")
	return nil
}

// decodeManagedSecrets refuses `managed_secrets:`: references to secrets
// kept by a SkyPilot API server, which skynomad cannot read; running the
// task without them would fail later and less clearly.
func decodeManagedSecrets(d *taskDecoder, p kv, _ *taskDoc) error {
	if isEmptyNode(p.val) {
		return nil
	}
	return d.errorAt(p.key, p.path, "not supported: managed secrets are kept by a SkyPilot API server, which skynomad does not have").
		accepting("secrets: {NAME: null} and the value with --secret NAME=VALUE (or NAME from your environment)")
}

// decodeExperimental accepts `experimental: {config_overrides: ...}`, the
// old place of `config:`, read as config unless the task has both (then
// config wins, as in SkyPilot).
func decodeExperimental(d *taskDecoder, p kv, td *taskDoc) error {
	if isNullNode(p.val) {
		return nil
	}
	ps, err := d.pairs(p.val, p.path)
	if err != nil {
		return err
	}
	for _, e := range ps {
		if e.name != "config_overrides" {
			return d.errorAt(e.key, e.path, "unknown field").choices(e.name, []string{"config_overrides"})
		}
		d.warnAt(e.key, e.path, "field is deprecated in the task YAML. Use the `config` field to set config overrides.")
		if td.config != nil {
			d.warnAt(e.key, e.path, "both top-level `config` and `experimental.config_overrides` are specified. Using top-level `config`.")
			continue
		}
		if err := decodeConfig(d, e, td); err != nil {
			return err
		}
	}
	return nil
}
