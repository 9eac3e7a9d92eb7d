job "sky-4-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.accelerator_args" = "{\"runtime_version\":\"tpu-vm-base\",\"tpu_vm\":true}"
    "sky.attempt"          = "2"
    "sky.capacity"         = "on-demand"
    "sky.job_id"           = "4"
    "sky.job_name"         = "with-volumes"
    "sky.offering"         = "sky-aws-us-east-1-p4d.24xlarge-on-demand"
    "sky.pipeline"         = "false"
    "sky.task"             = "0"
    "sky.task_name"        = "with-volumes"
  }

  group "main" {
    count = 2

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-p4d.24xlarge-on-demand"
      operator  = "="
    }

    constraint {
      attribute = "$${meta.sky.capacity}"
      value     = "on-demand"
      operator  = "="
    }

    constraint {
      operator = "distinct_hosts"
    }

    volume "checkpoints" {
      type            = "csi"
      source          = "checkpoints"
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
    }

    volume "training-data" {
      type            = "csi"
      source          = "training-data"
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
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
        cluster_info = "{\"cluster_name\":\"sky-4-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 2
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "with-volumes"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/setup.sh"
        data            = <<EOT
ls /mnt/data
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      volume_mount {
        volume      = "training-data"
        destination = "/mnt/data"
      }

      volume_mount {
        volume      = "checkpoints"
        destination = "/mnt/ckpt"
      }
    }

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-4-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 2
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "with-volumes"
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
ls /mnt/data /mnt/ckpt
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      volume_mount {
        volume      = "training-data"
        destination = "/mnt/data"
      }

      volume_mount {
        volume      = "checkpoints"
        destination = "/mnt/ckpt"
      }
    }
  }
}
