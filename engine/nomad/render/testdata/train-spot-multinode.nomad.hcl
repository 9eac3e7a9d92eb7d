job "sky-12-0" {
  type        = "batch"
  priority    = 65
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "3"
    "sky.capacity"  = "spot"
    "sky.job_id"    = "12"
    "sky.job_name"  = "train"
    "sky.offering"  = "sky-aws-us-east-1-p4d.24xlarge-spot"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "train"
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

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    ephemeral_disk {
      size = 222822
    }

    task "setup" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      lifecycle {
        hook = "prestart"
      }

      config {
        cluster_info = "{\"cluster_name\":\"sky-12-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 2
        phase        = "setup"
        setup_file   = "local/setup.sh"
        task_name    = "train"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      artifact {
        source      = "git::https://github.com/example/train.git?ref=v1.2"
        destination = "../alloc/sky_workdir"
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
EPOCHS="50"
SKYNOMAD_FILES="{\"store\":\"s3://team-bucket/skynomad\",\"copies\":[{\"key\":\"job-12-5e1f0a2b/local-file-mounts/3\",\"dir\":true,\"path\":\"/local-data\"}],\"buckets\":[{\"url\":\"s3://datasets/imagenet\",\"mode\":\"COPY\",\"path\":\"/data\"},{\"url\":\"gs://base-models\",\"mode\":\"COPY\",\"path\":\"/models\"},{\"url\":\"s3://ckpts\",\"mode\":\"MOUNT_CACHED\",\"path\":\"/checkpoint\"}]}"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-12-0\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }

    task "run" {
      driver       = "skypilot"
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      config {
        cluster_info = "{\"cluster_name\":\"sky-12-0\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 2
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "train"
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
python train.py --ckpt-dir /checkpoint
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
EPOCHS="50"
SKYNOMAD_FILES="{\"store\":\"s3://team-bucket/skynomad\",\"copies\":[{\"key\":\"job-12-5e1f0a2b/local-file-mounts/3\",\"dir\":true,\"path\":\"/local-data\"}],\"buckets\":[{\"url\":\"s3://datasets/imagenet\",\"mode\":\"COPY\",\"path\":\"/data\"},{\"url\":\"gs://base-models\",\"mode\":\"COPY\",\"path\":\"/models\"},{\"url\":\"s3://ckpts\",\"mode\":\"MOUNT_CACHED\",\"path\":\"/checkpoint\"}]}"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }

      template {
        destination = "secrets/skynomad.env"
        data        = "{{ with nomadVar \"nomad/jobs/sky-12-0\" }}{{ range .Tuples }}{{ .K }}={{ .V | printf \"%q\" }}\n{{ end }}{{ end }}"
        change_mode = "noop"
        env         = true
      }
    }
  }
}
