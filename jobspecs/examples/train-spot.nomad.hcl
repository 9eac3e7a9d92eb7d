# task 0: train-spot
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "1"
    "sky.job_name"  = "train-spot"
    "sky.offering"  = "sky-aws-us-east-2-p4d.24xlarge-spot"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "train-spot"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-2-p4d.24xlarge-spot"
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

    ephemeral_disk {
      size = 222822
    }

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"aws\",\"region\":\"us-east-2\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "train-spot"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/setup.sh"
        data            = <<EOT
pip install -r requirements.txt
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_train-spot_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_train-spot_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="8"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
EPOCHS="50"
WANDB_API_KEY="your-wandb-key"
SKYNOMAD_FILES="{\"store\":\"s3://skynomad-<runid>\",\"workdir\":\"job-<runid>/workdir\",\"buckets\":[{\"url\":\"s3://my-train-checkpoints\",\"mode\":\"MOUNT_CACHED\",\"path\":\"/checkpoint\"}]}"
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
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"aws\",\"region\":\"us-east-2\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "train-spot"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024

        device "nvidia/gpu" {
          count = 8

          constraint {
            attribute = "$${device.model}"
            value     = "(?i)\\bA100\\b"
            operator  = "regexp"
          }
        }
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
python train.py --epochs $EPOCHS --ckpt-dir /checkpoint
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_train-spot_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_train-spot_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="8"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
EPOCHS="50"
WANDB_API_KEY="your-wandb-key"
SKYNOMAD_FILES="{\"store\":\"s3://skynomad-<runid>\",\"workdir\":\"job-<runid>/workdir\",\"buckets\":[{\"url\":\"s3://my-train-checkpoints\",\"mode\":\"MOUNT_CACHED\",\"path\":\"/checkpoint\"}]}"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
