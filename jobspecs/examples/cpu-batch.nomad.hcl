# task 0: cpu-batch
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "1"
    "sky.job_name"  = "cpu-batch"
    "sky.offering"  = "sky-aws-us-east-1-m7i.2xlarge-spot"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "cpu-batch"
  }

  group "main" {
    count = 2

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-m7i.2xlarge-spot"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.capacity}"
      value     = "spot"
      operator  = "="
    }

    constraint {
      operator = "distinct_hosts"
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
        num_nodes    = 2
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "cpu-batch"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 27852
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
echo "rank $SKYPILOT_NODE_RANK"
echo "$SKYPILOT_NODE_IPS"
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_cpu-batch_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_cpu-batch_1-0"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="2"
SKYPILOT_NUM_GPUS_PER_NODE="0"
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
