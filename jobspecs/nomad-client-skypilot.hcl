# A Nomad client that runs skynomad's tasks with the skypilot task-driver
# plugin, raw_exec off. Copy bin/plugins/skypilot (`make plugin`) to
# /opt/nomad/plugins/skypilot, put this beside the client's other config,
# restart the client, and check `nomad node status -verbose <node>`: the
# skypilot driver detected and healthy, with driver.skypilot.* attributes.
# Every option: docs/configuration.md, "The skypilot task-driver plugin".

plugin_dir = "/opt/nomad/plugins"

client {
  enabled = true

  # The offering this node is, for the controller's placement. Nodes the
  # autoscaler starts get these from its bootstrap.
  node_class = "sky-aws-us-east-1-m6i.2xlarge-spot"
  meta {
    "sky.cloud"         = "aws"
    "sky.region"        = "us-east-1"
    "sky.capacity"      = "spot"
    "sky.instance_type" = "m6i.2xlarge"
  }
}

plugin "skypilot" {
  config {
    # Who runs the tasks (default: nobody, when the client runs as root).
    user = "nobody"

    # Read cloud, region, zone, instance type and spot from the instance
    # metadata (AWS IMDSv2, then GCP); values set here win.
    metadata = "auto"
  }
}

plugin "raw_exec" {
  config {
    enabled = false
  }
}
