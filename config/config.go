package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// engines lists the accepted `engine` values.
var engines = []string{"local", "nomad"}

// Environment variables that override the file.
const (
	EnvHome            = "SKYNOMAD_HOME"
	EnvControllerAddr  = "SKYNOMAD_CONTROLLER_ADDR"
	EnvControllerToken = "SKYNOMAD_CONTROLLER_TOKEN"
	EnvCatalogURL      = "SKYNOMAD_CATALOG_URL"
)

// Config is <home>/config.yaml after overrides and defaults.
type Config struct {
	Controller Controller `yaml:"controller"`
	// Engine is what a controller started from this home runs attempts on:
	// "local" (this host) or "nomad".
	Engine string `yaml:"engine"`
	// Infra lists the clouds the Nomad engine may place on (aws, gcp);
	// empty means every cloud of the catalog.
	Infra []string `yaml:"infra"`
	Jobs  Jobs     `yaml:"jobs"`
	Local Local    `yaml:"local"`
	Nomad Nomad    `yaml:"nomad"`
	// Autoscaler says which offerings `skynomad autoscaler policies`
	// writes a Nomad Autoscaler policy for, and how they scale.
	Autoscaler Autoscaler `yaml:"autoscaler"`
	Catalog    Catalog    `yaml:"catalog"`
}

// Catalog says where SkyPilot's catalog is downloaded from.
type Catalog struct {
	// URL is the base a cloud's file is read from, <url>/v7/<cloud>/vms.csv;
	// empty means SkyPilot's (catalog.DefaultBaseURL).
	URL string `yaml:"url"`
}

// Autoscaler configures the policies of the offerings the Nomad
// Autoscaler provisions (autoscaler-plugin/).
type Autoscaler struct {
	// Infra lists cloud or cloud/region entries with policies; empty: the
	// top-level infra, else every cloud of the catalog.
	Infra []string `yaml:"infra"`
	// InstanceTypes narrows the offerings to these types; empty: all.
	InstanceTypes []string `yaml:"instance_types"`
	// Capacity lists spot and/or on-demand; empty: both.
	Capacity []string `yaml:"capacity"`
	// MaxNodes is each offering's policy max.
	MaxNodes int `yaml:"max_nodes"`
	// EvaluationInterval and Cooldown pace each policy.
	EvaluationInterval Duration `yaml:"evaluation_interval"`
	Cooldown           Duration `yaml:"cooldown"`
	// NodeDrainDeadline bounds the drain of a node being scaled in.
	NodeDrainDeadline Duration `yaml:"node_drain_deadline"`
}

// Controller says where the CLI finds the controller.
type Controller struct {
	// Address is unix:///path/to/socket or http(s)://host:port.
	Address string `yaml:"address"`
	// Token is the bearer token sent to (and required by) the controller.
	Token string `yaml:"token"`
}

// Jobs configures managed jobs.
type Jobs struct {
	// Bucket is the job-files bucket (s3://bucket/prefix, gs://..., or a
	// local directory); empty means a temporary bucket per launch.
	Bucket string `yaml:"bucket"`
	// LaunchRetries ends a job FAILED_NO_RESOURCE after this many launch
	// tries in a row that found no capacity or failed to reach the engine;
	// 0 retries forever, as SkyPilot does.
	LaunchRetries int `yaml:"launch_retries"`
}

// Local configures the local engine.
type Local struct {
	// KeepAttempts is how many ended attempts keep their sandboxes (workdir
	// copy, mounts, scripts) under <home>/local/attempts; older ones keep
	// only their logs. Attempts still running are never touched. Nil means
	// DefaultKeepAttempts.
	KeepAttempts *int `yaml:"keep_attempts"`
}

// Nomad configures the Nomad engine. The Nomad address and token come from
// the usual NOMAD_* variables.
type Nomad struct {
	// TaskDriver runs the tasks: "skypilot", the task-driver plugin
	// (driver/taskdriver), or "raw_exec" for clusters that cannot install a
	// plugin, running RunnerPath.
	TaskDriver string `yaml:"task_driver"`
	// RunnerPath is the skynomad binary on the Nomad clients (raw_exec only).
	RunnerPath string `yaml:"runner_path"`
	// Datacenters the task jobs may run in.
	Datacenters []string `yaml:"datacenters"`
	// NodePool the task jobs run in; empty is Nomad's default pool.
	NodePool string `yaml:"node_pool"`
	// VolumeType is the Nomad volume a task's named volume
	// (`volumes: {/path: name}`) is: "host", a client's host_volume of
	// that name, or "csi", a CSI volume registered under it.
	VolumeType string `yaml:"volume_type"`
	// PlacementTimeout is how long an attempt may wait for a node before the
	// controller moves to the next candidate.
	PlacementTimeout Duration `yaml:"placement_timeout"`
}

// Duration is a time.Duration written as "90s" or "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive duration (e.g. 90s, 5m)", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Defaults. Everything not set by the file or the environment comes from here.
const (
	DefaultEngine           = "local"
	DefaultTaskDriver       = "skypilot"
	DefaultVolumeType       = "host"
	DefaultRunnerPath       = "/usr/local/bin/skynomad"
	DefaultPlacementTimeout = 5 * time.Minute
	DefaultKeepAttempts     = 20

	DefaultAutoscalerMaxNodes = 8
	DefaultEvaluationInterval = 10 * time.Second
	DefaultCooldown           = 5 * time.Minute
	DefaultNodeDrainDeadline  = 10 * time.Minute
)

// taskDrivers lists the accepted nomad.task_driver values.
var taskDrivers = []string{"skypilot", "raw_exec"}

// volumeTypes lists the accepted nomad.volume_type values.
var volumeTypes = []string{"host", "csi"}

// capacities lists the accepted autoscaler.capacity values.
var capacities = []string{"spot", "on-demand"}

// setDefaults fills every unset field.
func (c *Config) setDefaults(p Paths) {
	if c.Engine == "" {
		c.Engine = DefaultEngine
	}
	if c.Controller.Address == "" {
		c.Controller.Address = "unix://" + p.Socket
	}
	if c.Nomad.TaskDriver == "" {
		c.Nomad.TaskDriver = DefaultTaskDriver
	}
	if c.Nomad.VolumeType == "" {
		c.Nomad.VolumeType = DefaultVolumeType
	}
	if c.Nomad.RunnerPath == "" {
		c.Nomad.RunnerPath = DefaultRunnerPath
	}
	if len(c.Nomad.Datacenters) == 0 {
		c.Nomad.Datacenters = []string{"*"}
	}
	if c.Nomad.PlacementTimeout == 0 {
		c.Nomad.PlacementTimeout = Duration(DefaultPlacementTimeout)
	}
	a := &c.Autoscaler
	if len(a.Infra) == 0 {
		a.Infra = c.Infra
	}
	if len(a.Capacity) == 0 {
		a.Capacity = capacities
	}
	if a.MaxNodes == 0 {
		a.MaxNodes = DefaultAutoscalerMaxNodes
	}
	if a.EvaluationInterval == 0 {
		a.EvaluationInterval = Duration(DefaultEvaluationInterval)
	}
	if a.Cooldown == 0 {
		a.Cooldown = Duration(DefaultCooldown)
	}
	if a.NodeDrainDeadline == 0 {
		a.NodeDrainDeadline = Duration(DefaultNodeDrainDeadline)
	}
	if c.Local.KeepAttempts == nil {
		keep := DefaultKeepAttempts
		c.Local.KeepAttempts = &keep
	}
}

// Home is $SKYNOMAD_HOME, or .skynomad in the user's home directory.
func Home(getenv func(string) string) (string, error) {
	if h := getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("finding the home directory (set %s): %w", EnvHome, err)
		}
	}
	return filepath.Join(home, ".skynomad"), nil
}

// Paths are the files a skynomad home holds.
type Paths struct {
	Home string
	// Config is config.yaml.
	Config string
	// Socket is the local controller's unix socket.
	Socket string
	// State is the controller's SQLite database.
	State string
	// Lock is held by the running controller.
	Lock string
	// PID holds the running controller's process id.
	PID string
	// Log is the detached controller's log.
	Log string
	// Token holds the token a controller serving TCP generated on its
	// first start (mode 0600); the CLI sends it when none is configured.
	Token string
	// Local is where the local engine keeps its sandboxes.
	Local string
	// Catalogs holds the downloaded copies of SkyPilot's catalog
	// (v7/<cloud>/vms.csv).
	Catalogs string
}

// PathsOf lays out the files of home.
func PathsOf(home string) Paths {
	j := func(name string) string { return filepath.Join(home, name) }
	return Paths{
		Home:     home,
		Config:   j("config.yaml"),
		Socket:   j("controller.sock"),
		Token:    j("controller.token"),
		State:    j("state.db"),
		Lock:     j("controller.lock"),
		PID:      j("controller.pid"),
		Log:      j("controller.log"),
		Local:    j("local"),
		Catalogs: j("catalogs"),
	}
}

// Load reads <home>/config.yaml (a missing file is an empty one), applies
// the environment overrides, fills the defaults and validates the result.
func Load(home string, getenv func(string) string) (*Config, error) {
	p := PathsOf(home)
	c := &Config{}
	pos := positions{}
	data, err := os.ReadFile(p.Config)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the configuration: %w", err)
	default:
		if err := decode(p.Config, data, c, pos); err != nil {
			return nil, err
		}
	}
	if v := getenv(EnvControllerAddr); v != "" {
		c.Controller.Address = v
		delete(pos, "controller.address") // not the file's value any more
	}
	if v := getenv(EnvControllerToken); v != "" {
		c.Controller.Token = v
	}
	if v := getenv(EnvCatalogURL); v != "" {
		c.Catalog.URL = v
		delete(pos, "catalog.url")
	}
	c.setDefaults(p)
	if c.Controller.Token == "" && !strings.HasPrefix(c.Controller.Address, "unix://") {
		c.Controller.Token = ReadToken(p.Token)
	}
	if err := c.validate(p.Config, pos); err != nil {
		return nil, err
	}
	return c, nil
}

// Error is a problem in the configuration file, located when it can be.
type Error struct {
	File      string
	Line, Col int
	// Key is the dotted key (controller.address); empty for the whole file.
	Key string
	Msg string
	// Accepted lists what would be accepted, comma-separated; may be empty.
	Accepted string
}

// Error renders one line: "file:line:col: key: msg; accepted: a, b".
func (e *Error) Error() string {
	s := e.Headline()
	if hints := e.Hints(); len(hints) > 0 {
		s += "; " + strings.Join(hints, " ")
	}
	return s
}

// Headline is the first line of the error as a person reads it, in the
// form editors jump to: "file:line:col: key: msg" ("file: key: msg" for a
// value that has no place in the file, e.g. one from the environment).
func (e *Error) Headline() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, max(e.Col, 1))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Hints are the lines under the headline: what would be accepted.
func (e *Error) Hints() []string {
	if e.Accepted == "" {
		return nil
	}
	return []string{"accepted: " + e.Accepted}
}

// IsError reports whether err is (or wraps) a configuration *Error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// yamlLine finds the line in a yaml.v3 syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// decode walks the YAML tree against the struct's yaml tags so that an
// unknown key or a wrong type is reported at its line and column.
// positions maps a dotted key to where its value is written.
type positions map[string][2]int

func decode(file string, data []byte, c *Config, pos positions) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		e := &Error{File: file}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Col = 1
			msg = msg[len(m[0]):]
		}
		e.Msg = "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")
		return e
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	return decodeNode(file, "", doc.Content[0], reflect.ValueOf(c).Elem(), pos)
}

var durationType = reflect.TypeFor[Duration]()

func decodeNode(file, key string, n *yaml.Node, v reflect.Value, pos positions) error {
	if key != "" {
		pos[key] = [2]int{n.Line, n.Column}
	}
	at := func(n *yaml.Node, key, format string, args ...any) *Error {
		return &Error{File: file, Line: n.Line, Col: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if v.Kind() != reflect.Struct || v.Type() == durationType {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			msg := err.Error()
			if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
				msg = fmt.Sprintf("expected %s, got %s", kindName(v.Type()), describe(n))
			}
			return at(n, key, "%s", msg)
		}
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return at(n, key, "expected a mapping, got %s", describe(n))
	}
	fields := map[string]int{}
	var names []string
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		fields[name] = i
		names = append(names, name)
	}
	slices.Sort(names)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		full := k.Value
		if key != "" {
			full = key + "." + k.Value
		}
		idx, ok := fields[k.Value]
		if !ok {
			e := at(k, full, "unknown key")
			e.Accepted = strings.Join(names, ", ")
			return e
		}
		if err := decodeNode(file, full, val, v.Field(idx), pos); err != nil {
			return err
		}
	}
	return nil
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (e.g. 90s, 5m)"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// validate checks values the types cannot.
func (c *Config) validate(file string, pos positions) error {
	bad := func(key, format string, args ...any) *Error {
		at := pos[key]
		return &Error{File: file, Line: at[0], Col: at[1], Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if !slices.Contains(engines, c.Engine) {
		e := bad("engine", "%q is not an engine", c.Engine)
		e.Accepted = strings.Join(engines, ", ")
		return e
	}
	if !validAddress(c.Controller.Address) {
		return bad("controller.address", "%q is not unix:///path/to/socket or http(s)://host:port", c.Controller.Address)
	}
	for _, cloud := range c.Infra {
		if cloud == "" || strings.ToLower(cloud) != cloud || strings.ContainsAny(cloud, "/* ") {
			return bad("infra", "%q is not a cloud name (lower case, e.g. aws, gcp)", cloud)
		}
	}
	if !slices.Contains(taskDrivers, c.Nomad.TaskDriver) {
		e := bad("nomad.task_driver", "%q is not a task driver skynomad renders", c.Nomad.TaskDriver)
		e.Accepted = strings.Join(taskDrivers, ", ")
		return e
	}
	if !slices.Contains(volumeTypes, c.Nomad.VolumeType) {
		e := bad("nomad.volume_type", "%q is not a Nomad volume type skynomad renders", c.Nomad.VolumeType)
		e.Accepted = strings.Join(volumeTypes, ", ")
		return e
	}
	if c.Jobs.LaunchRetries < 0 {
		e := bad("jobs.launch_retries", "%d is negative", c.Jobs.LaunchRetries)
		e.Accepted = "0 (retry forever) or a number of tries"
		return e
	}
	if k := *c.Local.KeepAttempts; k < 0 {
		e := bad("local.keep_attempts", "%d is negative", k)
		e.Accepted = "0 or more ended attempts to keep"
		return e
	}
	for _, in := range c.Autoscaler.Infra {
		cloud, region, _ := strings.Cut(in, "/")
		if cloud == "" || strings.ToLower(in) != in || strings.ContainsAny(in, "* ") || strings.Contains(region, "/") {
			e := bad("autoscaler.infra", "%q is not a cloud or cloud/region", in)
			e.Accepted = "aws, gcp, aws/us-east-1, gcp/us-central1, …"
			return e
		}
	}
	for _, cap := range c.Autoscaler.Capacity {
		if !slices.Contains(capacities, cap) {
			e := bad("autoscaler.capacity", "%q is not a capacity", cap)
			e.Accepted = strings.Join(capacities, ", ")
			return e
		}
	}
	if c.Autoscaler.MaxNodes < 0 {
		e := bad("autoscaler.max_nodes", "%d is negative", c.Autoscaler.MaxNodes)
		e.Accepted = "the most nodes one offering may have (default 8)"
		return e
	}
	if u := c.Catalog.URL; u != "" && !validBaseURL(u) {
		e := bad("catalog.url", "%q is not an http(s) URL", u)
		e.Accepted = "a base URL such as https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs (a cloud's file is <url>/v7/<cloud>/vms.csv)"
		if _, ok := pos["catalog.url"]; !ok {
			e.Key = "catalog.url (" + EnvCatalogURL + ")"
		}
		return e
	}
	if b := c.Jobs.Bucket; b != "" && !validBucket(b) {
		return bad("jobs.bucket", "%q is not s3://bucket[/prefix], gs://bucket[/prefix], file:///dir or an absolute directory", b)
	}
	return nil
}

func validAddress(a string) bool {
	u, err := url.Parse(a)
	if err != nil {
		return false
	}
	return u.Scheme == "unix" && u.Path != "" || (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validBucket(b string) bool {
	if filepath.IsAbs(b) {
		return true
	}
	u, err := url.Parse(b)
	if err != nil {
		return false
	}
	return (u.Scheme == "s3" || u.Scheme == "gs") && u.Host != "" || u.Scheme == "file" && u.Path != ""
}

// ReadToken returns the token kept in path, or "" when there is none.
func ReadToken(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ControllerSocket returns the socket path of a unix:// address, or "".
func (c *Config) ControllerSocket() string {
	if after, ok := strings.CutPrefix(c.Controller.Address, "unix://"); ok {
		return after
	}
	return ""
}
