# skynomad spot interruption handler, as a Nomad system job: one instance on
# every spot node (client meta sky.capacity = "spot").
#
# On an AWS spot interruption notice (IMDSv2), a GCP preemption
# (instance/preempted) or an Azure Scheduled Events "Preempt" event it:
#   1. marks its node ineligible;
#   2. for each skynomad allocation on the node (job sky-*, meta sky.job_id):
#      records the preemption in the Nomad Variable
#      skynomad/preemptions/<alloc-id>, writes the deadline to
#      <alloc-dir>/alloc/skynomad/preemption-deadline and sends SIGTERM to
#      the "setup"/"run" task, so the task can checkpoint;
#   3. stops those allocations shortly before the deadline (--stop-margin),
#      so the skynomad controller relaunches them elsewhere.
# See interrupt/doc.go for the details.
#
# Before running this job:
#
#   1. Install the skynomad binary on every spot client at
#      /usr/local/bin/skynomad, enable raw_exec in the client config:
#        plugin "raw_exec" { config { enabled = true } }
#      and give spot clients the meta the constraint below selects:
#        client { meta { "sky.capacity" = "spot" } }
#   2. The handler writes the deadline file into each allocation directory
#      under the client's data_dir + "/alloc", which it finds from its own
#      allocation directory (raw_exec sets NOMAD_ALLOC_DIR to the host path).
#      Add "--alloc-root", "<data_dir>/alloc" to args if it runs otherwise.
#   3. With ACLs enabled, the handler needs a token with node:write,
#      namespace read-job + alloc-lifecycle (alloc stop and signal) and
#      variables write on skynomad/preemptions/* in the namespaces where
#      skynomad runs jobs. Store it and uncomment the template block:
#        nomad var put nomad/jobs/skynomad-interrupt-handler nomad_token=<token>
#
# Then: nomad job run jobspecs/skynomad-interrupt-handler.nomad.hcl
job "skynomad-interrupt-handler" {
  type     = "system"
  priority = 90
  # Spot nodes may sit in any node pool.
  node_pool = "all"

  constraint {
    attribute = "${meta.sky.capacity}"
    value     = "spot"
  }

  group "handler" {
    restart {
      attempts = 10
      interval = "5m"
      delay    = "5s"
      mode     = "delay"
    }

    task "handler" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/skynomad"
        args = [
          "interrupt-handler",
          "--cloud", "auto",
          "--poll-interval", "5s",
          "--stop-margin", "5s",
          "--on-rebalance", "ignore",
        ]
      }

      env {
        # The local client agent's HTTP address (use https:// with TLS).
        NOMAD_ADDR = "http://${attr.nomad.advertise.address}"
      }

      # With ACLs: the handler's token (see step 3 above).
      # template {
      #   data        = <<-EOT
      #     {{ with nomadVar "nomad/jobs/skynomad-interrupt-handler" }}NOMAD_TOKEN={{ .nomad_token }}{{ end }}
      #   EOT
      #   destination = "secrets/nomad.env"
      #   env         = true
      # }

      resources {
        cpu    = 50
        memory = 64
      }

      kill_timeout = "10s"
    }
  }
}
