job "sky-9-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "9"
    "sky.job_name"  = "train-in-container"
    "sky.labels"    = "{\"cost-center\":\"1234\",\"team\":\"research\"}"
    "sky.offering"  = "sky-aws-us-east-1-p4d.24xlarge-on-demand"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "train-in-container"
  }

  group "main" {
    count = 1

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

    volume "datasets" {
      type   = "host"
      source = "datasets"
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
      driver       = "docker"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        args    = ["$${NOMAD_TASK_DIR}/setup.sh"]
        cap_add = ["IPC_LOCK"]
        command = "/bin/bash"
        devices = [{
          "host_path" = "/dev/infiniband/uverbs0"
        }]
        image    = "nvcr.io/nvidia/pytorch:24.05-py3"
        ipc_mode = "host"
        shm_size = 17179869184
        ulimit = {
          "memlock" = "-1:-1"
          "stack"   = "67108864"
        }
        volumes = ["/mnt/nvme:/scratch:ro"]
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
NCCL_DEBUG="INFO"
EPOCHS="1"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      volume_mount {
        volume      = "datasets"
        destination = "/data"
      }
    }

    task "run" {
      driver       = "docker"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        args    = ["$${NOMAD_TASK_DIR}/run.sh"]
        cap_add = ["IPC_LOCK"]
        command = "/bin/bash"
        devices = [{
          "host_path" = "/dev/infiniband/uverbs0"
        }]
        image    = "nvcr.io/nvidia/pytorch:24.05-py3"
        ipc_mode = "host"
        shm_size = 17179869184
        ulimit = {
          "memlock" = "-1:-1"
          "stack"   = "67108864"
        }
        volumes = ["/mnt/nvme:/scratch:ro"]
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
python train.py
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
NCCL_DEBUG="INFO"
EPOCHS="1"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      volume_mount {
        volume      = "datasets"
        destination = "/data"
      }
    }
  }
}
