// Package target is skynomad-target, the Nomad Autoscaler (v0.5.0) target
// plugin that keeps the nodes of one offering per policy: it launches
// instances through the offering's cloud.Provider with a bootstrap that
// makes each one a Nomad client of the offering's node class, drains and
// terminates them on scale-in (the SDK's scaleutils), terminates instances
// that never joined Nomad after a boot timeout, and records a cloud's
// refusal of capacity in the Nomad Variable skynomad/capacity/<node class>,
// where the controller's Nomad engine reads it to move a waiting attempt
// to its next candidate.
//
// A policy's target block names the offering:
//
//	target "skynomad" {
//	  node_class    = "sky-aws-us-east-1-m6i.large-spot"
//	  cloud         = "aws"
//	  region        = "us-east-1"
//	  instance_type = "m6i.large"
//	  capacity      = "spot"
//	  …
//	}
//
// A worker pool's policy adds `pool = "<name>"`: its instances are of the
// pool's offering but join the pool's node class sky-pool-<name> (the
// node_class it must name), and the plugin counts, drains and records
// refusals by that class.
//
// The plugin block's config holds what every policy shares (endpoints,
// images, the bootstrap's Nomad servers); a policy's keys override it.
// docs/autoscaler.md lists every key.
package target
