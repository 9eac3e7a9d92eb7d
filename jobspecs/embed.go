// Package jobspecs holds what skynomad deploys on a cluster: the Nomad
// jobspecs (read by operators) and the node bootstrap template, which the
// autoscaler target plugin embeds as its default.
package jobspecs

import _ "embed"

// BootstrapTemplate is bootstrap/nomad-client.sh.tmpl.
//
//go:embed bootstrap/nomad-client.sh.tmpl
var BootstrapTemplate string
