job "sky-40-0" {
  region      = "eu"
  namespace   = "ml"
  type        = "batch"
  priority    = 1
  datacenters = ["dc1", "dc2"]
  node_pool   = "gpu"
  meta = {
    "sky.attempt"   = "2"
    "sky.capacity"  = "on-demand"
    "sky.job_id"    = "40"
    "sky.job_name"  = "infer"
    "sky.offering"  = "sky-aws-us-east-1-p4d.24xlarge-on-demand"
    "sky.pipeline"  = "false"
    "sky.pool"      = "inference"
    "sky.task"      = "0"
    "sky.task_name" = "infer"
  }

  group "main" {
    count = 1

    constraint {
      attribute = "$${node.unique.id}"
      value     = "0b7e6a52-8f1d-4c3e-a2b5-6e9d4f1c8a07"
      operator  = "="
    }

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

    task "run" {
      driver       = "skypilot"
      kill_timeout = "2m0s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-40-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "infer"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
        worker_alloc = "5d1e0c4e-3f7a-4f7c-9d61-2b9f0e6a7c11"
      }

      resources {
        cpu    = 1000
        memory = 1024

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "$${device.model}"
            value     = "(?i)\\bH100\\b"
            operator  = "regexp"
          }
        }
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
echo rank $SKYPILOT_JOB_RANK
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-40-0\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }
  }
}
