# task 0: container-options
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "1"
    "sky.job_name"  = "container-options"
    "sky.labels"    = "{\"project\":\"examples\",\"team\":\"ml\"}"
    "sky.offering"  = "sky-aws-us-east-1-m6i.large-on-demand"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "container-options"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-m6i.large-on-demand"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.capacity}"
      value     = "on-demand"
      operator  = "="
    }

    volume "datasets" {
      type   = "host"
      source = "datasets"
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
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        image        = "python:3.12-slim"
        ipc_mode     = "host"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        shm_size     = 2147483648
        task_name    = "container-options"
        ulimit = {
          "nofile" = "65536:65536"
        }
        workdir = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
df -h /dev/shm
ls -la /data
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_container-options_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_container-options_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="0"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      volume_mount {
        volume      = "datasets"
        destination = "/data"
      }
    }
  }
}
