# job group web-pair: server, client, one task group each
job "sky-1-0" {
  type        = "batch"
  priority    = 50
  datacenters = ["*"]
  meta = {
    "sky.attempt"   = "1"
    "sky.capacity"  = "on-demand"
    "sky.group"     = "web-pair"
    "sky.job_id"    = "1"
    "sky.job_name"  = "web-pair"
    "sky.offering"  = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
    "sky.pipeline"  = "false"
    "sky.task"      = "0"
    "sky.task_name" = "web-pair"
  }

  group "server" {
    count = 1
    meta = {
      "sky.offering"          = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
      "sky.primary"           = "false"
      "sky.task_name"         = "server"
      "sky.termination_delay" = "2s"
    }

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
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
        task_name    = "server"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
mkdir -p www && echo "hello from the server" > www/index.html
echo "server up on port $PORT"
exec python3 -m http.server "$PORT" --bind 0.0.0.0 --directory www
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_web-pair_server_1-0"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_web-pair_server_1-0\nsky-managed-2026-01-01-12-00-00-000000_web-pair_client_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="0"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYPILOT_JOBGROUP_NAME="web-pair"
PORT="18431"
SKYNOMAD_GROUP="web-pair"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }

  group "client" {
    count = 1
    meta = {
      "sky.offering"          = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
      "sky.primary"           = "true"
      "sky.task_name"         = "client"
      "sky.termination_delay" = "2s"
    }

    constraint {
      attribute = "$${node.class}"
      value     = "sky-aws-us-east-1-m6i.2xlarge-on-demand"
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
        cluster_info = "{\"cluster_name\":\"sky-1-1\",\"cloud\":\"aws\",\"region\":\"us-east-1\",\"zone\":null}"
        num_nodes    = 1
        phase        = "run"
        run_file     = "local/run.sh"
        task_name    = "client"
        workdir      = "$${NOMAD_ALLOC_DIR}/sky_workdir"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }

      template {
        destination     = "local/run.sh"
        data            = <<EOT
url="http://server-0.$SKYPILOT_JOBGROUP_NAME:$PORT/"
for i in $(seq 120); do
  if body=$(curl -sf "$url"); then
    echo "client got: $body"
    exit 0
  fi
  sleep 0.5
done
echo "client: $url never answered" >&2
exit 1
EOT
        change_mode     = "noop"
        perms           = "0755"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
      }

      template {
        destination     = "local/skynomad.env"
        data            = <<EOT
SKYPILOT_TASK_ID="sky-managed-2026-01-01-12-00-00-000000_web-pair_client_1-1"
SKYPILOT_TASK_IDS="sky-managed-2026-01-01-12-00-00-000000_web-pair_server_1-0\nsky-managed-2026-01-01-12-00-00-000000_web-pair_client_1-1"
SKYPILOT_MANAGED_JOB_ID="1"
SKYPILOT_NUM_NODES="1"
SKYPILOT_NUM_GPUS_PER_NODE="0"
SKYPILOT_JOB_RANK="0"
SKYPILOT_NUM_JOBS="1"
SKYPILOT_JOBGROUP_NAME="web-pair"
PORT="18431"
SKYNOMAD_GROUP="web-pair"
EOT
        change_mode     = "noop"
        left_delimiter  = "[[=skynomad:"
        right_delimiter = ":skynomad=]]"
        env             = true
      }
    }
  }
}
