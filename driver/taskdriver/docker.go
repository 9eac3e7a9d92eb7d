package taskdriver

import (
	"cmp"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver"
)

// An image task's docker run options (config.docker.run_options, rendered
// under the names of Nomad's docker driver) become docker CLI flags. What
// would give the container more of the node than a task's own directories
// (a privileged container, capabilities beyond Docker's defaults, bind
// mounts of host paths) needs the plugin config's leave, as with Nomad's
// docker driver.

var (
	capName    = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	ulimitSpec = regexp.MustCompile(`^-?[0-9]+(:-?[0-9]+)?$`)
)

// hasDockerOptions reports whether the config asks for any docker option.
func (c *TaskConfig) hasDockerOptions() bool {
	return c.ShmSize != 0 || c.IPCMode != "" || c.PIDMode != "" || c.NetworkMode != "" || c.Privileged || c.Init ||
		len(c.CapAdd)+len(c.CapDrop)+len(c.Devices)+len(c.Volumes)+len(c.Ulimit)+len(c.Sysctl)+len(c.SecurityOpt) > 0 ||
		c.GPUs != "" || c.Runtime != ""
}

// validateDocker checks the docker options' values; they need an image.
func (c *TaskConfig) validateDocker() error {
	if !c.hasDockerOptions() {
		return nil
	}
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("config %s = %v: %s", key, v, want)
	}
	switch {
	case c.image() == "":
		return fmt.Errorf("config: docker options (%s, ...) need an image (config %s)", c.firstDockerKey(), driver.ConfigImage)
	case c.ShmSize < 0:
		return bad(driver.ConfigShmSize, c.ShmSize, "want a size in bytes")
	case c.IPCMode != "" && !slices.Contains([]string{"host", "private", "shareable", "none"}, c.IPCMode):
		return bad(driver.ConfigIPCMode, c.IPCMode, "want host, private, shareable or none")
	case c.PIDMode != "" && c.PIDMode != "host":
		return bad(driver.ConfigPIDMode, c.PIDMode, "want host")
	case c.NetworkMode != "" && c.NetworkMode != "host":
		return bad(driver.ConfigNetworkMode, c.NetworkMode, "want host: the skypilot driver runs every container on the node's network")
	}
	for _, cp := range append(slices.Clone(c.CapAdd), c.CapDrop...) {
		if !capName.MatchString(strings.ToUpper(cp)) {
			return bad("cap_add/cap_drop", cp, "want a capability name such as SYS_ADMIN")
		}
	}
	for _, d := range c.Devices {
		if !filepath.IsAbs(d["host_path"]) {
			return bad(driver.ConfigDevices, d, "want host_path, an absolute path")
		}
	}
	for _, v := range c.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || !filepath.IsAbs(parts[0]) || !filepath.IsAbs(parts[1]) || len(parts) == 3 && parts[2] != "ro" {
			return bad(driver.ConfigVolumes, v, "want HOST:CONTAINER[:ro] with absolute paths")
		}
	}
	for name, l := range c.Ulimit {
		if !ulimitSpec.MatchString(l) {
			return bad(driver.ConfigUlimit, name+"="+l, "want soft[:hard] whole numbers")
		}
	}
	return nil
}

func (c *TaskConfig) firstDockerKey() string {
	keys := map[string]bool{
		driver.ConfigShmSize: c.ShmSize != 0, driver.ConfigIPCMode: c.IPCMode != "", driver.ConfigPIDMode: c.PIDMode != "",
		driver.ConfigNetworkMode: c.NetworkMode != "", driver.ConfigPrivileged: c.Privileged, driver.ConfigInit: c.Init,
		driver.ConfigCapAdd: len(c.CapAdd) > 0, driver.ConfigCapDrop: len(c.CapDrop) > 0, driver.ConfigDevices: len(c.Devices) > 0,
		driver.ConfigGPUs: c.GPUs != "", driver.ConfigRuntime: c.Runtime != "", driver.ConfigVolumes: len(c.Volumes) > 0,
		driver.ConfigUlimit: len(c.Ulimit) > 0, driver.ConfigSysctl: len(c.Sysctl) > 0, driver.ConfigSecurityOpt: len(c.SecurityOpt) > 0,
	}
	var set []string
	for k, ok := range keys {
		if ok {
			set = append(set, k)
		}
	}
	slices.Sort(set)
	return set[0]
}

// dockerOptionArgs are the `docker run` flags of the task's docker options
// and of its volumes (Nomad's volume_mount), in a fixed order, or why the
// plugin config does not allow them.
func dockerOptionArgs(tc *TaskConfig, pc PluginConfig, mounts []*drivers.MountConfig) ([]string, error) {
	var args []string
	add := func(flag string, values ...string) {
		for _, v := range values {
			args = append(args, flag+"="+v)
		}
	}
	if tc.Privileged {
		if !pc.DockerAllowPrivileged {
			return nil, fmt.Errorf("config %s: this node's skypilot plugin does not run privileged containers "+
				"(plugin config docker_allow_privileged = false)", driver.ConfigPrivileged)
		}
		args = append(args, "--privileged")
	}
	for _, c := range tc.CapAdd {
		c = strings.ToUpper(c)
		if !slices.ContainsFunc(pc.DockerAllowCaps, func(a string) bool { return strings.EqualFold(a, c) || strings.EqualFold(a, "ALL") }) {
			return nil, fmt.Errorf("config %s: capability %s is not allowed on this node (plugin config docker_allow_caps: %s)",
				driver.ConfigCapAdd, c, strings.Join(pc.DockerAllowCaps, ", "))
		}
	}
	if len(tc.Volumes) > 0 && !pc.DockerVolumes {
		return nil, fmt.Errorf("config %s: this node's skypilot plugin does not bind host paths into containers "+
			"(plugin config docker_volumes = false); use a Nomad host or CSI volume (volumes: in the task)", driver.ConfigVolumes)
	}
	if tc.Init {
		args = append(args, "--init")
	}
	if tc.ShmSize > 0 {
		add("--shm-size", strconv.FormatInt(tc.ShmSize, 10))
	}
	if tc.IPCMode != "" {
		add("--ipc", tc.IPCMode)
	}
	if tc.PIDMode != "" {
		add("--pid", tc.PIDMode)
	}
	add("--cap-add", upper(tc.CapAdd)...)
	add("--cap-drop", upper(tc.CapDrop)...)
	for _, d := range tc.Devices {
		dev := d["host_path"]
		if d["container_path"] != "" || d["cgroup_permissions"] != "" {
			dev += ":" + cmp.Or(d["container_path"], d["host_path"])
		}
		if d["cgroup_permissions"] != "" {
			dev += ":" + d["cgroup_permissions"]
		}
		add("--device", dev)
	}
	if tc.GPUs != "" {
		add("--gpus", tc.GPUs)
	}
	if tc.Runtime != "" {
		add("--runtime", tc.Runtime)
	}
	for _, name := range sortedKeys(tc.Ulimit) {
		add("--ulimit", name+"="+tc.Ulimit[name])
	}
	for _, name := range sortedKeys(tc.Sysctl) {
		add("--sysctl", name+"="+tc.Sysctl[name])
	}
	add("--security-opt", tc.SecurityOpt...)
	for _, v := range tc.Volumes {
		args = append(args, "-v", v)
	}
	for _, m := range mounts {
		v := m.HostPath + ":" + m.TaskPath
		if m.Readonly {
			v += ":ro"
		}
		args = append(args, "-v", v)
	}
	return args, nil
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}
