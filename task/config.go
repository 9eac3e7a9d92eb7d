package task

// What a task's `config:`, `volumes:` and the rarer resource fields
// (accelerator_args, <cloud>.labels) become once read.

// DockerOptions are `config.docker.run_options`, read into the options
// skynomad can pass on to the container of a `docker:<image>` task. The
// names follow Nomad's docker driver.
type DockerOptions struct {
	ShmSize     int64  `json:"shm_size,omitempty"` // bytes
	IPCMode     string `json:"ipc_mode,omitempty"`
	PIDMode     string `json:"pid_mode,omitempty"`
	NetworkMode string `json:"network_mode,omitempty"`
	Privileged  bool   `json:"privileged,omitempty"`
	// Init runs an init process as the container's PID 1 (--init).
	Init    bool           `json:"init,omitempty"`
	CapAdd  []string       `json:"cap_add,omitempty"`
	CapDrop []string       `json:"cap_drop,omitempty"`
	Devices []DockerDevice `json:"devices,omitempty"`
	// GPUs is --gpus as written (all, 2, "device=0,1").
	GPUs    string `json:"gpus,omitempty"`
	Runtime string `json:"runtime,omitempty"`
	// Volumes are bind mounts HOST:CONTAINER[:ro|rw] of absolute paths.
	Volumes []string `json:"volumes,omitempty"`
	// Env is what -e/--env set in the container, in order.
	Env []EnvVar `json:"env,omitempty"`
	// Ulimits maps a limit's name to "soft" or "soft:hard".
	Ulimits     map[string]string `json:"ulimits,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	SecurityOpt []string          `json:"security_opt,omitempty"`
}

// DockerDevice is one --device HOST[:CONTAINER[:PERMISSIONS]].
type DockerDevice struct {
	HostPath          string `json:"host_path"`
	ContainerPath     string `json:"container_path,omitempty"`
	CgroupPermissions string `json:"cgroup_permissions,omitempty"`
}

// Volume is one entry of `volumes:`: a named volume (made beforehand, as
// `sky volumes apply` makes it) or an ephemeral one, made for the job and
// gone with it, mounted at Path on every node.
type Volume struct {
	Path string `json:"path"`
	// Name names the volume; empty for an ephemeral one.
	Name string `json:"name,omitempty"`
	// SubPath mounts a directory of the volume instead of its root.
	SubPath string `json:"sub_path,omitempty"`
	// SizeGB is an ephemeral volume's size.
	SizeGB int `json:"size_gb,omitempty"`
}

// Ephemeral reports whether the volume lives only as long as the job.
func (v Volume) Ephemeral() bool { return v.Name == "" }

// AcceleratorArgs is `resources.accelerator_args` (TPUs on GCP).
type AcceleratorArgs struct {
	RuntimeVersion    string `json:"runtime_version,omitempty"`
	TPUName           string `json:"tpu_name,omitempty"`
	TPUVM             *bool  `json:"tpu_vm,omitempty"`
	GCPQueuedResource *bool  `json:"gcp_queued_resource,omitempty"`
}

// LabelsOn is the labels of the instances this request runs on when they
// are of cloud: the config's labels for that cloud, overridden by the
// task's own `resources.labels`. Nil when there are none.
func (r Resources) LabelsOn(cloud string) map[string]string {
	from := r.CloudLabels[cloud]
	if len(from)+len(r.Labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(from)+len(r.Labels))
	for k, v := range from {
		out[k] = v
	}
	for k, v := range r.Labels {
		out[k] = v
	}
	return out
}
