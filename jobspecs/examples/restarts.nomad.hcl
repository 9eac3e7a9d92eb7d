# task 0: flaky
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "1"
    "sky.job_name"  = "flaky"
    "sky.offering"  = "sky-aws-us-east-1-m6i.large-on-demand"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "flaky"
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
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "flaky"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
marker="/tmp/skynomad-flaky-$SKYPILOT_TASK_ID"
n=$(cat $marker 2>/dev/null || echo 0)
echo $((n+1)) > $marker
if [ "$n" -lt 2 ]; then echo "attempt $n fails"; exit 7; fi
echo "attempt $n succeeds"
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_flaky_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_flaky_1-0"
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
    }
  }
}
