# task 0: any-of
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "1"
    "sky.job_name"  = "any-of"
    "sky.offering"  = "sky-gcp-us-east5-a2-ultragpu-1g-spot"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "any-of"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-gcp-us-east5-a2-ultragpu-1g-spot"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.capacity}"
      value     = "spot"
      operator  = "="
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"gcp\",\"region\":\"us-east5\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "any-of"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "$${device.model}"
            value     = "(?i)\\bA100\\b.*\\b80GB\\b"
            operator  = "regexp"
          }
        }
      }

      template {
        destination     = "local/run.sh"
        data            = "nvidia-smi"
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_any-of_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_any-of_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="1"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
