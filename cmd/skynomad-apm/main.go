// Command skynomad-apm is the Nomad Autoscaler APM plugin reporting the
// skynomad controller's demand per node class (autoscaler-plugin/apm).
package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad-autoscaler/plugins"

	"github.com/skynomad/skynomad/autoscaler-plugin/apm"
)

func main() {
	plugins.Serve(func(log hclog.Logger) interface{} { return apm.New(log) })
}
