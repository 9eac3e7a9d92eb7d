package translator

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skynomad/skynomad/task"
)

// Overrides are the `jobs launch` flags that replace fields of the task
// file. A zero value leaves the file's value. Resource overrides replace the
// field in the task's resources and in every any_of/ordered candidate; they
// are refused for a pipeline of several tasks, whose tasks each set their
// own. Name renames the task (or the pipeline).
type Overrides struct {
	Name         string // -n/--name
	Infra        string // --infra
	CPUs, Memory string // --cpus, --memory
	GPUs         string // --gpus
	InstanceType string // -t/--instance-type
	NumNodes     string // --num-nodes, as typed: decoded like num_nodes
	UseSpot      *bool  // --use-spot / --no-use-spot
	ImageID      string // --image-id
	DiskSize     string // --disk-size
	// JobRecovery replaces the whole job_recovery with this strategy, as
	// SkyPilot does (max_restarts_on_errors of the file is dropped).
	JobRecovery string // --job-recovery
	Workdir     string // --workdir
}

// resourceFlag is one resource override: the flag, the resources key it
// replaces, and its value when given.
type resourceFlag struct {
	flag, key string
	value     func(o *Overrides) string
}

var resourceFlags = []resourceFlag{
	{"--infra", "infra", func(o *Overrides) string { return o.Infra }},
	{"--cpus", "cpus", func(o *Overrides) string { return o.CPUs }},
	{"--memory", "memory", func(o *Overrides) string { return o.Memory }},
	{"--gpus", "accelerators", func(o *Overrides) string { return o.GPUs }},
	{"--instance-type", "instance_type", func(o *Overrides) string { return o.InstanceType }},
	{"--use-spot", "use_spot", func(o *Overrides) string {
		if o.UseSpot == nil {
			return ""
		}
		return strconv.FormatBool(*o.UseSpot)
	}},
	{"--image-id", "image_id", func(o *Overrides) string { return o.ImageID }},
	{"--disk-size", "disk_size", func(o *Overrides) string { return o.DiskSize }},
	{"--job-recovery", "job_recovery", func(o *Overrides) string { return o.JobRecovery }},
}

// resourcePairs turns the resource overrides into pairs decoded like the
// file's own keys. Their nodes have no line, so errors name the flag.
func (o Overrides) resourcePairs() []kv {
	var out []kv
	for _, f := range resourceFlags {
		v := f.value(&o)
		if v == "" {
			continue
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: v}
		out = append(out, kv{key: n, val: n, name: f.key, path: f.flag})
	}
	return out
}

// taskFlags lists the given flags that change a task's fields.
func (o Overrides) taskFlags() []string {
	var flags []string
	for _, p := range o.resourcePairs() {
		flags = append(flags, p.path)
	}
	for _, p := range o.taskPairs() {
		flags = append(flags, p.path)
	}
	return flags
}

// taskPairs turns --num-nodes and --workdir into pairs decoded by the
// task's own field table. A plain scalar resolves like unquoted YAML, so
// --num-nodes 0 is refused as num_nodes: 0 is.
func (o Overrides) taskPairs() []kv {
	var out []kv
	add := func(flag, key, v string) {
		if v == "" {
			return
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
		if key == "workdir" {
			n.Style, n.Tag = yaml.DoubleQuotedStyle, "!!str"
		}
		out = append(out, kv{key: n, val: n, name: key, path: flag})
	}
	add("--num-nodes", "num_nodes", o.NumNodes)
	add("--workdir", "workdir", o.Workdir)
	return out
}

// validate checks the overrides that are not decoded with the file.
func (o Overrides) validate() error {
	if o.Name != "" && !namePattern.MatchString(o.Name) {
		return &Error{Field: "--name", Msg: fmt.Sprintf("%q is not a valid name", o.Name), Accepted: nameAccepted}
	}
	return nil
}

// checkPipeline refuses task overrides for a pipeline of several tasks.
func (o Overrides) checkPipeline(file string) error {
	if flags := o.taskFlags(); len(flags) > 0 {
		return &Error{File: file, Field: flags[0], Msg: "cannot be applied to a pipeline of several tasks; set it in each task of the file"}
	}
	return nil
}

// ParseEnvFlag reads one --env value: "NAME=VALUE", or "NAME" to take the
// value from the caller's environment through lookup (os.LookupEnv in the
// CLI; nil finds nothing).
func ParseEnvFlag(arg string, lookup func(string) (string, bool)) (task.EnvVar, error) {
	return parseVarFlag("--env", arg, lookup)
}

// ParseSecretFlag reads one --secret value, like ParseEnvFlag.
func ParseSecretFlag(arg string, lookup func(string) (string, bool)) (task.EnvVar, error) {
	return parseVarFlag("--secret", arg, lookup)
}

const varFlagAccepted = "NAME=VALUE, or NAME to pass a variable of your environment; NAME is a letter or _, then letters, digits or _"

func parseVarFlag(flag, arg string, lookup func(string) (string, bool)) (task.EnvVar, error) {
	name, value, hasValue := strings.Cut(arg, "=")
	if !envName.MatchString(name) {
		return task.EnvVar{}, &Error{Field: flag, Msg: fmt.Sprintf("%q is not a valid variable name", name), Accepted: varFlagAccepted}
	}
	if !hasValue {
		var ok bool
		if lookup != nil {
			value, ok = lookup(name)
		}
		if !ok {
			return task.EnvVar{}, &Error{Field: flag, Msg: fmt.Sprintf("%s is not set in your environment", name), Accepted: varFlagAccepted}
		}
	}
	return task.EnvVar{Name: name, Value: value}, nil
}

// ParseEnvFile reads a dotenv file (--env-file): NAME=VALUE lines, blank
// lines and # comments, an optional `export ` prefix, values optionally in
// single quotes (literal) or double quotes (with \n, \t, \" and \\ escapes).
func ParseEnvFile(path string) ([]task.EnvVar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return parseDotenv(path, string(data))
}

func parseDotenv(file, data string) ([]task.EnvVar, error) {
	var out []task.EnvVar
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		body := strings.TrimLeft(line, " \t")
		if body == "" || body[0] == '#' {
			continue
		}
		at := func(col int, format string, args ...any) *Error {
			return &Error{File: file, Line: i + 1, Col: col, Msg: fmt.Sprintf(format, args...)}
		}
		col := len(line) - len(body) + 1
		if rest, ok := strings.CutPrefix(body, "export "); ok {
			col += len(body) - len(strings.TrimLeft(rest, " \t"))
			body = strings.TrimLeft(rest, " \t")
		}
		name, raw, ok := strings.Cut(body, "=")
		name = strings.TrimRight(name, " \t")
		if !ok {
			return nil, at(col, "expected NAME=VALUE, got %q", body).accepting("NAME=VALUE lines, # comments")
		}
		if !envName.MatchString(name) {
			return nil, at(col, "%q is not a valid variable name", name).accepting(varFlagAccepted)
		}
		valueCol := col + len(name) + 1 + len(raw) - len(strings.TrimLeft(raw, " \t"))
		value, problem := dotenvValue(strings.Trim(raw, " \t"))
		if problem != "" {
			e := at(valueCol, "%s", problem)
			e.Field = name
			return nil, e
		}
		out = append(out, task.EnvVar{Name: name, Value: value})
	}
	return out, nil
}

// dotenvValue unquotes one value; problem is non-empty when it is malformed.
func dotenvValue(raw string) (value, problem string) {
	if raw == "" {
		return "", ""
	}
	switch q := raw[0]; q {
	case '\'', '"':
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == q:
				if rest := strings.TrimLeft(raw[i+1:], " \t"); rest != "" && rest[0] != '#' {
					return "", fmt.Sprintf("unexpected text after the closing quote: %q", rest)
				}
				return b.String(), ""
			case c == '\\' && q == '"' && i+1 < len(raw):
				i++
				b.WriteByte(dotenvUnescape(raw[i]))
			default:
				b.WriteByte(c)
			}
		}
		return "", "the quoted value has no closing quote"
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "\t#"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimRight(raw, " \t"), ""
}

// dotenvUnescape maps the character after a backslash in a double-quoted value.
func dotenvUnescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}
