job "sky-5-2" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "5"
    "sky.job_name"  = "cpu"
    "sky.offering"  = "sky-aws-us-west-2-m6i.large-on-demand"
    "sky.pipeline"  = "false"
    "sky.task"      = "2"
    "sky.task_name" = "cpu"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${meta.sky.cloud}"
      value     = "aws"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.region}"
      value     = "us-west-2"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.instance_type}"
      value     = "m6i.large"
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
        cluster_info = "{\"cluster_name\":\"sky-5-2\",\"cloud\":\"aws\",\"region\":\"us-west-2\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "cpu"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 4096
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT1
EOT
echo done
EOT1
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }
    }
  }
}
