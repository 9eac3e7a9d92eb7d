# task 0: train
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "1"
    "sky.job_name"  = "pipeline"
    "sky.offering"  = "sky-aws-us-east-1-p3.16xlarge-spot"
    "sky.pipeline"  = "true"
    "sky.task"      = "0"
    "sky.task_name" = "train"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-p3.16xlarge-spot"
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

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "train"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/setup.sh"
        data            = <<EOT
echo setup for training
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0\nsky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="8"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYNOMAD_FILES="{\"buckets\":[{\"url\":\"s3://train-eval\",\"mode\":\"MOUNT\",\"path\":\"/checkpoint\"}]}"
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
        cluster_info = "{\"cluster_name\":\"sky-1-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "train"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024

        device "nvidia/gpu" {
          count = 8

          constraint {
            attribute = "$${device.model}"
            value     = "(?i)\\bV100\\b"
            operator  = "regexp"
          }
        }
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
echo run for training
echo save checkpoints to /checkpoint
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0\nsky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="8"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYNOMAD_FILES="{\"buckets\":[{\"url\":\"s3://train-eval\",\"mode\":\"MOUNT\",\"path\":\"/checkpoint\"}]}"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}

# task 1: eval
job "sky-1-1" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "1"
    "sky.job_name"  = "pipeline"
    "sky.offering"  = "sky-aws-us-east-1-g4dn.xlarge-on-demand"
    "sky.pipeline"  = "true"
    "sky.task"      = "1"
    "sky.task_name" = "eval"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-g4dn.xlarge-on-demand"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.capacity}"
      value     = "on-demand"
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

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        cluster_info = "{\"cluster_name\":\"sky-1-1\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "eval"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/setup.sh"
        data            = <<EOT
echo setup for eval
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0\nsky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="1"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYNOMAD_FILES="{\"buckets\":[{\"url\":\"s3://train-eval\",\"mode\":\"MOUNT\",\"path\":\"/checkpoint\"}]}"
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
        cluster_info = "{\"cluster_name\":\"sky-1-1\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "eval"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "$${device.model}"
            value     = "(?i)\\bT4\\b"
            operator  = "regexp"
          }
        }
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
echo load trained model from /checkpoint
echo eval model on test set
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_pipeline_train_1-0\nsky-managed-2026-01-01-12-00-00-000000_pipeline_eval_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="1"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYNOMAD_FILES="{\"buckets\":[{\"url\":\"s3://train-eval\",\"mode\":\"MOUNT\",\"path\":\"/checkpoint\"}]}"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
