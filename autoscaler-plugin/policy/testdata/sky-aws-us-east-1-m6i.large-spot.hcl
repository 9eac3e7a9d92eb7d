# Written by skynomad autoscaler policies: the nodes of aws us-east-1 m6i.large (spot).
# The agent reads a policy once: to change it, rename the file (or restart
# the agent) after editing.
scaling "sky-aws-us-east-1-m6i.large-spot" {
  enabled = true
  type    = "cluster"
  min     = 0
  max     = 8

  policy {
    evaluation_interval = "10s"
    cooldown            = "5m0s"

    check "demand" {
      source = "skynomad"
      query  = "demand/sky-aws-us-east-1-m6i.large-spot"
      strategy "pass-through" {}
    }

    target "skynomad" {
      node_class             = "sky-aws-us-east-1-m6i.large-spot"
      cloud                  = "aws"
      region                 = "us-east-1"
      instance_type          = "m6i.large"
      capacity               = "spot"
      node_selector_strategy = "empty_ignore_system"
      node_drain_deadline    = "10m0s"
      node_purge             = "true"
    }
  }
}
