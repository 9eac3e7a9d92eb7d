# task 0: pool
job "sky-1-0" {
  name        = "pool-worker"
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"     = "1"
    "sky.capacity"    = "on-demand"
    "sky.job_id"      = "1"
    "sky.job_name"    = "pool"
    "sky.offering"    = "sky-gcp-us-central1-a3-highgpu-1g-on-demand"
    "sky.pipeline"    = "false"
    "sky.pool"        = "pool"
    "sky.pool_worker" = "true"
    "sky.task"        = "0"
    "sky.task_name"   = "pool"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-pool-pool"
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

    ephemeral_disk {
      size = 445644
    }

    network {
      port "sky_pool_worker" {
        static = 19646
      }
    }

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"gcp\",\"region\":\"us-central1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "pool"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 100
        memory = 128
      }

      template {
        destination     = "local/setup.sh"
        data            = <<EOT
echo "prepare the environment once per worker"
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pool_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pool_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="1"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
MODEL_NAME="openai/gpt-oss-20b"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"gcp\",\"region\":\"us-central1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "pool"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 100
        memory = 128
      }

      template {
        destination     = "local/run.sh"
        data            = "exec sleep infinity"
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pool_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pool_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="1"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
MODEL_NAME="openai/gpt-oss-20b"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
