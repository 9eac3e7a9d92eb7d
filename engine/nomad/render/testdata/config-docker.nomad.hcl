job "sky-9-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "9"
    "sky.job_name"  = "train-in-container"
    "sky.labels"    = "{\"cost-center\":\"1234\",\"team\":\"research\"}"
    "sky.offering"  = "sky-aws-us-east-1-p4d.24xlarge-spot"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "train-in-container"
  }

  group "main" {
    count = 2

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-p4d.24xlarge-spot"
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

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cap_add      = ["IPC_LOCK"]
        cluster_info = "{\"cluster_name\":\"sky-9-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        devices = [{
          "host_path" = "/dev/infiniband/uverbs0"
        }]
        image     = "nvcr.io/nvidia/pytorch:24.05-py3"
        ipc_mode  = "host"
        num_nodes = 2
        phase     = "run"
        run_file  = "local/run.sh"
        shm_size  = 17179869184
        task_name = "train-in-container"
        ulimit = {
          "memlock" = "-1:-1"
          "stack"   = "67108864"
        }
        volumes = ["/mnt/nvme:/scratch:ro"]
        workdir = "$${NOMAD_ALLOC_DIR}/sky_workdir"
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
EPOCHS="50"
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
