# Written by skynomad autoscaler policies: the nodes of worker pool gpus,
# 3 of aws us-east-1 p4d.24xlarge (spot), one worker each.
# After the pool's size or resources change, write the policies again and
# reload the agent (SIGHUP): the policy's name changes with them.
scaling "sky-pool-gpus-3-sky-aws-us-east-1-p4d.24xlarge-spot" {
  enabled = true
  type    = "cluster"
  min     = 3
  max     = 3

  policy {
    evaluation_interval = "10s"
    cooldown            = "5m0s"

    check "fixed" {
      strategy "fixed-value" {
        value = 3
      }
    }

    target "skynomad" {
      node_class             = "sky-pool-gpus"
      pool                   = "gpus"
      cloud                  = "aws"
      region                 = "us-east-1"
      instance_type          = "p4d.24xlarge"
      capacity               = "spot"
      node_selector_strategy = "least_busy"
      node_drain_deadline    = "10m0s"
      node_purge             = "true"
    }
  }
}
