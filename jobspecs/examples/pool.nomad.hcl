# task 0: pool
job "sky-pool-pool" {
  type        = "sysbatch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.capacity"     = "on-demand"
    "sky.offering"     = "sky-gcp-us-central1-a3-highgpu-1g-on-demand"
    "sky.pool"         = "pool"
    "sky.pool_workers" = "2"
  }

  group "main" {
    constraint {
      attribute = "$${node.class}"
      value     = "sky-pool-pool"
      operator  = "="
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    ephemeral_disk {
      size = 445644
    }

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-pool-pool\",\"cloud\":\"gcp\",\"region\":\"us-central1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "pool"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
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
  }
}
