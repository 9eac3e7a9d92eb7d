job "sky-3-1" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "3"
    "sky.job_name"  = "pipe"
    "sky.offering"  = "sky-aws-us-west-2-m6i.large-on-demand"
    "sky.pipeline"  = "true"
    "sky.task"      = "1"
    "sky.task_name" = "in-container"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-west-2-m6i.large-on-demand"
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
        cluster_info = "{\"cluster_name\":\"sky-3-1\",\"cloud\":\"aws\",\"region\":\"us-west-2\",\"zone\":null}"
        image        = "python:3.12-slim"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "in-container"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 6963
      }

      artifact {
        source      = "git::git@github.com:example/app.git"
        destination = "../alloc/sky_workdir"
      }

      template {
        destination     = "local/run.sh"
        data            = "python -c \"import os; print(os.environ['GREETING'])\""
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
GREETING="hi"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
