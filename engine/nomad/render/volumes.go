package render

import (
	"slices"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/task"
)

// Volume types of Options.VolumeType.
const (
	VolumeHost = "host" // a client's host_volume of that name
	VolumeCSI  = "csi"  // a CSI volume registered under that name
)

// groupVolumes requests the task's named volumes of the group: one volume
// block per volume name, of Options.VolumeType. A CSI volume of a
// multi-node task is asked for in a multi-node access mode. (Check refuses
// the volumes Nomad cannot give.)
func (r renderer) groupVolumes() map[string]*api.VolumeRequest {
	if len(r.a.Task.Volumes) == 0 {
		return nil
	}
	out := map[string]*api.VolumeRequest{}
	for _, v := range r.a.Task.Volumes {
		if v.Ephemeral() || out[v.Name] != nil {
			continue
		}
		req := &api.VolumeRequest{Name: v.Name, Type: r.o.volumeType(), Source: v.Name}
		if req.Type == VolumeCSI {
			req.AttachmentMode = "file-system"
			req.AccessMode = "single-node-writer"
			if r.a.Task.NumNodes > 1 {
				req.AccessMode = "multi-node-multi-writer"
			}
		}
		out[v.Name] = req
	}
	return out
}

// volumeMounts mounts each named volume at its path in a task.
func (r renderer) volumeMounts() []*api.VolumeMount {
	var out []*api.VolumeMount
	for _, v := range r.a.Task.Volumes {
		if v.Ephemeral() {
			continue
		}
		out = append(out, &api.VolumeMount{Volume: new(v.Name), Destination: new(v.Path)})
	}
	return out
}

func (o Options) volumeType() string {
	if o.VolumeType == "" {
		return VolumeHost
	}
	return o.VolumeType
}

// volumesFeasible says why the task's volumes cannot be had on Nomad under
// o, or "". inImage: the task runs in a docker image.
func volumesFeasible(t task.Task, o Options, inImage bool) string {
	for _, v := range t.Volumes {
		switch {
		case v.Ephemeral():
			return "volumes " + v.Path + ": an ephemeral volume (size) cannot be made by a Nomad job; make a " +
				o.volumeType() + " volume beforehand and name it (volumes: {" + v.Path + ": <name>})"
		case v.SubPath != "":
			return "volumes " + v.Path + ": sub_path " + v.SubPath + ": Nomad 1.6 mounts a volume's root only; " +
				"make a volume of that directory, or mount the root and use the directory below it"
		}
	}
	if o = o.withDefaults(); len(t.Volumes) > 0 && o.TaskDriver != driver.PluginName && !inImage {
		return "volumes: the " + o.TaskDriver + " task driver mounts no volumes; run the task with the " + driver.PluginName +
			" task driver (nomad.task_driver), or in a docker image (resources.image_id: docker:<image>)"
	}
	return ""
}

// anyInImage reports whether a resource request of t runs in a docker image.
func anyInImage(t task.Task) bool {
	return t.Resources.DockerImage() != "" || slices.ContainsFunc(t.Candidates, func(r task.Resources) bool { return r.DockerImage() != "" })
}
