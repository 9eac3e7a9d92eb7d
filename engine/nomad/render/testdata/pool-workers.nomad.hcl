job "sky-pool-inference" {
  type        = "sysbatch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.capacity"           = "spot"
    "sky.offering"           = "sky-aws-us-east-1-p4d.24xlarge-spot"
    "sky.pool"               = "inference"
    "sky.pool_workers"       = "2"
    "sky.unsupported_mounts" = "workdir ."
  }

  group "main" {
    constraint {
      attribute = "$${node.class}"
      value     = "sky-pool-inference"
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
        cluster_info = "{\"cluster_name\":\"sky-pool-inference\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "inference"
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
MODEL_NAME="openai/gpt-oss-20b"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-pool-inference\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }
  }
}
