# Written by skynomad autoscaler policies: the nodes of gcp us-central1 n2-standard-8 (on-demand).
# The agent reads a policy once: to change it, rename the file (or restart
# the agent) after editing.
scaling "sky-gcp-us-central1-n2-standard-8-on-demand" {
  enabled = true
  type    = "cluster"
  min     = 0
  max     = 8

  policy {
    evaluation_interval = "10s"
    cooldown            = "5m0s"

    check "demand" {
      source = "skynomad"
      query  = "demand/sky-gcp-us-central1-n2-standard-8-on-demand"
      strategy "pass-through" {}
    }

    target "skynomad" {
      node_class             = "sky-gcp-us-central1-n2-standard-8-on-demand"
      cloud                  = "gcp"
      region                 = "us-central1"
      instance_type          = "n2-standard-8"
      capacity               = "on-demand"
      node_selector_strategy = "empty_ignore_system"
      node_drain_deadline    = "10m0s"
      node_purge             = "true"
    }
  }
}
