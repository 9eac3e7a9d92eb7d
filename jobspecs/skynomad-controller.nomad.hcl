# skynomad controller as a Nomad service job.
#
# The controller keeps its state (SQLite, per-job controller logs) on a host
# volume, so a restart or a reschedule onto the same host resumes every
# managed job. Before running this job:
#
#   1. Install the skynomad binary on the client at /usr/local/bin/skynomad
#      (the same binary runs each task as `skynomad driver`).
#   2. Declare the host volume in that client's agent config:
#        client {
#          host_volume "skynomad" {
#            path      = "/var/lib/skynomad"
#            read_only = false
#          }
#        }
#   3. Store a Nomad ACL token for the controller (submit-job, read-job,
#      alloc-lifecycle, read-logs, node:read, variables write on nomad/jobs/*
#      and skynomad/*) and a bearer token for CLI users in Nomad Variables:
#        nomad var put nomad/jobs/skynomad-controller \
#          nomad_token=<token> api_token=<random secret>
#
# Then: nomad job run jobspecs/skynomad-controller.nomad.hcl
# Point the CLI at it: see docs/deploy-nomad.md.
job "skynomad-controller" {
  type      = "service"
  priority  = 80
  node_pool = "default"

  group "controller" {
    count = 1

    volume "state" {
      type      = "host"
      source    = "skynomad"
      read_only = false
    }

    network {
      port "api" {
        static = 7780
      }
    }

    # Prometheus finds the controller through this service and scrapes
    # /metrics, which needs the controller's bearer token (api_token below):
    #
    #   scrape_configs:
    #     - job_name: skynomad-controller
    #       metrics_path: /metrics
    #       authorization:
    #         credentials_file: /etc/prometheus/skynomad-token
    #       nomad_sd_configs:          # consul_sd_configs with provider "consul"
    #         - server: http://nomad.service.consul:4646
    #       relabel_configs:
    #         - source_labels: [__meta_nomad_tags]   # __meta_consul_tags
    #           regex: .*,prometheus,.*
    #           action: keep
    #
    # Nomad's service discovery gives Prometheus the tags only; with provider
    # "consul" the meta below reaches it too (__meta_consul_service_metadata_*).
    # /v1/health, the check's path, needs no token.
    service {
      name     = "skynomad-controller"
      port     = "api"
      provider = "nomad"
      tags     = ["skynomad", "controller", "prometheus", "metrics"]

      meta {
        metrics_path   = "/metrics"
        metrics_scheme = "http"
      }

      check {
        type     = "http"
        path     = "/v1/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    # One controller at a time: the state lock is per host volume, and the
    # controller re-attaches to running attempts after a restart.
    restart {
      attempts = 10
      interval = "30m"
      delay    = "5s"
      mode     = "delay"
    }

    task "controller" {
      # exec (not raw_exec) so that the host volume is mounted into the task.
      driver = "exec"

      config {
        command = "/usr/local/bin/skynomad"
        args = [
          "controller",
          "--engine", "nomad",
          "--listen", "${NOMAD_ADDR_api}",
        ]
      }

      volume_mount {
        volume      = "state"
        destination = "/var/lib/skynomad"
      }

      env {
        SKYNOMAD_HOME = "/var/lib/skynomad"
        NOMAD_ADDR    = "http://${attr.unique.network.ip-address}:4646"
      }

      template {
        destination = "secrets/skynomad.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/skynomad-controller" }}
          NOMAD_TOKEN={{ .nomad_token }}
          SKYNOMAD_CONTROLLER_TOKEN={{ .api_token }}
          {{ end }}
        EOT
      }

      kill_timeout = "30s"

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
