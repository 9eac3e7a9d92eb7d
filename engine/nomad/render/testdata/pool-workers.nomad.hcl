job "sky-31-0" {
  name        = "inference-worker"
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"     = "3"
    "sky.capacity"    = "spot"
    "sky.job_id"      = "31"
    "sky.job_name"    = "inference"
    "sky.offering"    = "sky-aws-us-east-1-p4d.24xlarge-spot"
    "sky.pipeline"    = "false"
    "sky.pool"        = "inference"
    "sky.pool_worker" = "true"
    "sky.task"        = "0"
    "sky.task_name"   = "inference"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.class}"
      value     = "sky-pool-inference"
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
        cluster_info = "{\"cluster_name\":\"sky-31-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "inference"
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
MODEL_NAME="openai/gpt-oss-20b"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-31-0\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-31-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "inference"
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
MODEL_NAME="openai/gpt-oss-20b"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-31-0\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }
  }
}
