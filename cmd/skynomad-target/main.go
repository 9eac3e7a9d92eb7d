// Command skynomad-target is the Nomad Autoscaler target plugin that
// provisions an offering's spot or on-demand instances on AWS and GCP
// (autoscaler-plugin/target).
package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/plugins"

	"github.com/skynomad/skynomad/autoscaler-plugin/providers"
	"github.com/skynomad/skynomad/autoscaler-plugin/target"
)

func main() {
	plugins.Serve(func(log hclog.Logger) interface{} { return target.New(log, providers.New) })
}
