package translator

// config.docker.run_options: `docker run` options as SkyPilot passes them
// to the task's container, read into task.DockerOptions. Only options with
// a counterpart in Nomad's docker driver (and the skypilot task driver) are
// accepted; any other is refused, naming those that are.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// dockerFlag is one accepted `docker run` option.
type dockerFlag struct {
	names []string // long name first, then the short one
	// boolean options take no value (--privileged, --privileged=false).
	boolean bool
	apply   func(o *task.DockerOptions, v string) error
}

var dockerFlags = []dockerFlag{
	{names: []string{"--shm-size"}, apply: func(o *task.DockerOptions, v string) error {
		n, ok := dockerBytes(v)
		if !ok {
			return fmt.Errorf("%q is not a size (e.g. 16g, 512m, 1073741824)", v)
		}
		o.ShmSize = n
		return nil
	}},
	{names: []string{"--ipc"}, apply: func(o *task.DockerOptions, v string) error {
		return oneOf(&o.IPCMode, v, "host", "private", "shareable", "none")
	}},
	{names: []string{"--pid"}, apply: func(o *task.DockerOptions, v string) error {
		return oneOf(&o.PIDMode, v, "host")
	}},
	{names: []string{"--network", "--net"}, apply: func(o *task.DockerOptions, v string) error {
		if v != "host" {
			return fmt.Errorf("%q: a SkyPilot task's container shares its node's network (--network=host), which its peers and ports rely on", v)
		}
		o.NetworkMode = v
		return nil
	}},
	{names: []string{"--privileged"}, boolean: true, apply: func(o *task.DockerOptions, v string) error {
		return setBool(&o.Privileged, v)
	}},
	{names: []string{"--init"}, boolean: true, apply: func(o *task.DockerOptions, v string) error {
		return setBool(&o.Init, v)
	}},
	{names: []string{"--cap-add"}, apply: func(o *task.DockerOptions, v string) error {
		return addCaps(&o.CapAdd, v)
	}},
	{names: []string{"--cap-drop"}, apply: func(o *task.DockerOptions, v string) error {
		return addCaps(&o.CapDrop, v)
	}},
	{names: []string{"--device"}, apply: func(o *task.DockerOptions, v string) error {
		dev, err := dockerDevice(v)
		if err == nil {
			o.Devices = append(o.Devices, dev)
		}
		return err
	}},
	{names: []string{"--gpus"}, apply: func(o *task.DockerOptions, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("no GPUs given (e.g. all, 2, \"device=0,1\")")
		}
		o.GPUs = v
		return nil
	}},
	{names: []string{"--runtime"}, apply: func(o *task.DockerOptions, v string) error {
		if !dockerName.MatchString(v) {
			return fmt.Errorf("%q is not a runtime name (e.g. nvidia, runc)", v)
		}
		o.Runtime = v
		return nil
	}},
	{names: []string{"--volume", "-v"}, apply: func(o *task.DockerOptions, v string) error {
		vol, err := dockerVolume(v)
		if err == nil {
			o.Volumes = append(o.Volumes, vol)
		}
		return err
	}},
	{names: []string{"--env", "-e"}, apply: func(o *task.DockerOptions, v string) error {
		name, value, ok := strings.Cut(v, "=")
		switch {
		case !envName.MatchString(name):
			return fmt.Errorf("%q is not NAME=VALUE with a valid variable name", v)
		case !ok:
			return fmt.Errorf("%q takes its value from the environment of the docker command, which a Nomad task has none of; give NAME=VALUE (or use envs:)", v)
		}
		o.Env = append(o.Env, task.EnvVar{Name: name, Value: value})
		return nil
	}},
	{names: []string{"--ulimit"}, apply: func(o *task.DockerOptions, v string) error {
		name, limit, err := dockerUlimit(v)
		if err == nil {
			if o.Ulimits == nil {
				o.Ulimits = map[string]string{}
			}
			o.Ulimits[name] = limit
		}
		return err
	}},
	{names: []string{"--sysctl"}, apply: func(o *task.DockerOptions, v string) error {
		name, value, ok := strings.Cut(v, "=")
		if !ok || !sysctlName.MatchString(name) {
			return fmt.Errorf("%q is not NAME=VALUE (e.g. net.core.somaxconn=1024)", v)
		}
		if o.Sysctls == nil {
			o.Sysctls = map[string]string{}
		}
		o.Sysctls[name] = value
		return nil
	}},
	{names: []string{"--security-opt"}, apply: func(o *task.DockerOptions, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("no security option given (e.g. seccomp=unconfined)")
		}
		o.SecurityOpt = append(o.SecurityOpt, v)
		return nil
	}},
}

var (
	dockerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	capName    = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	sysctlName = regexp.MustCompile(`^[a-z0-9_]+(?:[./][a-zA-Z0-9_-]+)+$`)
	// dockerSize is docker's RAMInBytes: a number, a binary unit, an
	// optional i and b.
	dockerSize = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
)

// ulimitNames are the limits docker knows.
var ulimitNames = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// dockerFlagNames lists the accepted options, for messages.
func dockerFlagNames() []string {
	var out []string
	for _, f := range dockerFlags {
		out = append(out, f.names...)
	}
	return out
}

// dockerRunOptions reads run_options: a string or a list of strings, each
// holding one or more options as a shell would split them.
func (d *taskDecoder) dockerRunOptions(p kv) (*task.DockerOptions, error) {
	opts := &task.DockerOptions{}
	for _, item := range oneOrMany(p) {
		s, err := d.str(item.val, item.path)
		if err != nil {
			return nil, err
		}
		words, err := shellWords(s)
		if err != nil {
			return nil, d.errorAt(unalias(item.val), item.path, "%q: %v", s, err)
		}
		if err := d.dockerWords(opts, words, item); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// dockerWords applies the options of one run_options string.
func (d *taskDecoder) dockerWords(opts *task.DockerOptions, words []string, at kv) error {
	n := unalias(at.val)
	for i := 0; i < len(words); i++ {
		w := words[i]
		f, value, hasValue := lookupDockerFlag(w)
		if f == nil {
			what := fmt.Sprintf("%q is not a docker run option skynomad passes on to the container", w)
			if !strings.HasPrefix(w, "-") {
				what = fmt.Sprintf("%q is not an option (options start with -)", w)
			}
			name, _, _ := strings.Cut(w, "=")
			return d.errorAt(n, at.path, "%s", what).choices(name, dockerFlagNames())
		}
		if !hasValue && !f.boolean {
			if i+1 == len(words) {
				return d.errorAt(n, at.path, "%s needs a value", w).accepting(f.names[0] + " VALUE or " + f.names[0] + "=VALUE")
			}
			i++
			value = words[i]
		}
		if err := f.apply(opts, value); err != nil {
			return d.errorAt(n, at.path, "%s: %v", f.names[0], err)
		}
	}
	return nil
}

// lookupDockerFlag finds the option a word starts: --name, --name=value,
// -x, -x=value or -xvalue.
func lookupDockerFlag(w string) (*dockerFlag, string, bool) {
	for i := range dockerFlags {
		f := &dockerFlags[i]
		for _, name := range f.names {
			switch {
			case w == name:
				return f, "", false
			case strings.HasPrefix(w, name+"="):
				return f, w[len(name)+1:], true
			case len(name) == 2 && strings.HasPrefix(w, name) && !strings.HasPrefix(w, "--"):
				return f, w[2:], true
			}
		}
	}
	return nil, "", false
}

// shellWords splits s as a POSIX shell would, without expansions: blanks
// separate words, quotes group them, a backslash escapes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("ends with a lone backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func oneOf(dst *string, v string, values ...string) error {
	if !slices.Contains(values, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))
	}
	*dst = v
	return nil
}

func setBool(dst *bool, v string) error {
	if v == "" {
		*dst = true
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not true or false", v)
	}
	*dst = b
	return nil
}

// addCaps adds capabilities (one, or several separated by commas) as
// Nomad's docker driver names them: SYS_ADMIN, not CAP_SYS_ADMIN.
func addCaps(dst *[]string, v string) error {
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
		if !capName.MatchString(c) {
			return fmt.Errorf("%q is not a capability (e.g. SYS_ADMIN, IPC_LOCK, ALL)", v)
		}
		if !slices.Contains(*dst, c) {
			*dst = append(*dst, c)
		}
	}
	return nil
}

// dockerBytes reads a size as docker does (binary units: 1k = 1024).
func dockerBytes(v string) (int64, bool) {
	m := dockerSize.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	exp := 0
	if m[2] != "" {
		exp = strings.Index("kmgtp", strings.ToLower(m[2])) + 1
	}
	n *= math.Pow(1024, float64(exp))
	if n < 1 || n > math.MaxInt64/2 {
		return 0, false
	}
	return int64(n), true
}

// dockerDevice reads HOST[:CONTAINER][:PERMISSIONS].
func dockerDevice(v string) (task.DockerDevice, error) {
	parts := strings.Split(v, ":")
	isPerm := func(s string) bool { return s != "" && strings.Trim(s, "rwm") == "" }
	var dev task.DockerDevice
	switch {
	case len(parts) == 1:
		dev.HostPath = parts[0]
	case len(parts) == 2 && isPerm(parts[1]):
		dev.HostPath, dev.CgroupPermissions = parts[0], parts[1]
	case len(parts) == 2:
		dev.HostPath, dev.ContainerPath = parts[0], parts[1]
	case len(parts) == 3 && isPerm(parts[2]):
		dev.HostPath, dev.ContainerPath, dev.CgroupPermissions = parts[0], parts[1], parts[2]
	default:
		return dev, fmt.Errorf("%q is not HOST[:CONTAINER][:PERMISSIONS] (e.g. /dev/fuse, /dev/infiniband/uverbs0:rwm)", v)
	}
	if !strings.HasPrefix(dev.HostPath, "/") || dev.ContainerPath != "" && !strings.HasPrefix(dev.ContainerPath, "/") {
		return dev, fmt.Errorf("%q: device paths are absolute (e.g. /dev/fuse)", v)
	}
	return dev, nil
}

// dockerVolume reads a bind mount HOST:CONTAINER[:ro|rw] of absolute paths.
func dockerVolume(v string) (string, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[0], "/") || !strings.HasPrefix(parts[1], "/") {
		return "", fmt.Errorf("%q is not a bind mount HOST:CONTAINER[:ro] of absolute paths (named docker volumes are the node's business; use volumes: for a job's volume)", v)
	}
	if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
		return "", fmt.Errorf("%q: mode %q is not ro or rw", v, parts[2])
	}
	if len(parts) == 3 && parts[2] == "rw" {
		v = parts[0] + ":" + parts[1]
	}
	return v, nil
}

// dockerUlimit reads NAME=SOFT[:HARD].
func dockerUlimit(v string) (string, string, error) {
	name, limit, ok := strings.Cut(v, "=")
	if !ok || !slices.Contains(ulimitNames, name) {
		return "", "", fmt.Errorf("%q is not NAME=SOFT[:HARD] with NAME one of %s", v, strings.Join(ulimitNames, ", "))
	}
	soft, hard, both := strings.Cut(limit, ":")
	nums := []string{soft}
	if both {
		nums = append(nums, hard)
	}
	for _, n := range nums {
		if _, err := strconv.ParseInt(n, 10, 64); err != nil {
			return "", "", fmt.Errorf("%q: limits are whole numbers (-1 for unlimited)", v)
		}
	}
	return name, limit, nil
}
