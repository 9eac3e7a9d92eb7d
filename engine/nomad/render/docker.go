package render

import (
	"slices"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/task"
)

// dockerSettings are a task's docker run options (config.docker.run_options)
// as task driver config, under the names of Nomad's docker driver, which the
// skypilot driver shares. gpus is the skypilot driver's alone: under the
// docker driver a task's GPUs come from its device request (Check refuses
// --gpus without one). Their -e variables go to the env file (envFile).
func dockerSettings(o *task.DockerOptions, taskDriver string) map[string]any {
	if o == nil {
		return nil
	}
	out := map[string]any{}
	set := func(key string, v any, isSet bool) {
		if isSet {
			out[key] = v
		}
	}
	set(driver.ConfigShmSize, o.ShmSize, o.ShmSize > 0)
	set(driver.ConfigIPCMode, o.IPCMode, o.IPCMode != "")
	set(driver.ConfigPIDMode, o.PIDMode, o.PIDMode != "")
	set(driver.ConfigNetworkMode, o.NetworkMode, o.NetworkMode != "")
	set(driver.ConfigPrivileged, true, o.Privileged)
	set(driver.ConfigInit, true, o.Init)
	set(driver.ConfigCapAdd, o.CapAdd, len(o.CapAdd) > 0)
	set(driver.ConfigCapDrop, o.CapDrop, len(o.CapDrop) > 0)
	set(driver.ConfigRuntime, o.Runtime, o.Runtime != "")
	set(driver.ConfigVolumes, o.Volumes, len(o.Volumes) > 0)
	set(driver.ConfigUlimit, o.Ulimits, len(o.Ulimits) > 0)
	set(driver.ConfigSysctl, o.Sysctls, len(o.Sysctls) > 0)
	set(driver.ConfigSecurityOpt, o.SecurityOpt, len(o.SecurityOpt) > 0)
	set(driver.ConfigGPUs, o.GPUs, o.GPUs != "" && taskDriver == driver.PluginName)
	if len(o.Devices) > 0 {
		devs := make([]map[string]string, len(o.Devices))
		for i, d := range o.Devices {
			devs[i] = map[string]string{"host_path": d.HostPath}
			if d.ContainerPath != "" {
				devs[i]["container_path"] = d.ContainerPath
			}
			if d.CgroupPermissions != "" {
				devs[i]["cgroup_permissions"] = d.CgroupPermissions
			}
		}
		out[driver.ConfigDevices] = devs
	}
	return out
}

// dockerEnv is what -e/--env set in the task's container, less what the
// task's own environment sets: the task's envs win, as SkyPilot's job
// script exports them over the container's.
func (r renderer) dockerEnv() []task.EnvVar {
	d := r.a.Task.Docker
	if d == nil || r.a.Task.Resources.DockerImage() == "" {
		return nil
	}
	var out []task.EnvVar
	for _, e := range d.Env {
		if !slices.ContainsFunc(r.a.Env, func(v task.EnvVar) bool { return v.Name == e.Name }) {
			out = append(out, e)
		}
	}
	return out
}
