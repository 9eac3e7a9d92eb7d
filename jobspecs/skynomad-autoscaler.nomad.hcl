# The Nomad Autoscaler v0.5.0 agent with skynomad's plugins: it keeps each
# offering's nodes (node class sky-<cloud>-<region>-<type>-<capacity>) at
# the demand the skynomad controller reports, launching spot or on-demand
# instances on AWS and GCP and draining and terminating them when the
# demand is gone. docs/autoscaler.md explains the whole setup.
#
# Before running this job, on the client that will run it:
#
#   1. Install the agent, built from the module (MPL-2.0 at v0.5.0), and
#      skynomad's plugins (`make build` leaves them in bin/plugins/):
#        /usr/local/bin/nomad-autoscaler
#        /opt/skynomad/plugins/skynomad-target
#        /opt/skynomad/plugins/skynomad-apm
#   2. Write the policies, one per offering config.yaml's autoscaler
#      section enables, where the agent reads them:
#        skynomad autoscaler policies --out /opt/skynomad/policies
#      (the agent reads a policy once: after a change, restart this job).
#   3. Store the tokens where the template below finds them:
#        nomad var put nomad/jobs/skynomad-autoscaler \
#          nomad_token=<token> controller_token=<the controller's api_token>
#      The Nomad token needs node:write (drain, eligibility, purge),
#      node:read, and variables write on skynomad/capacity/* in the default
#      namespace. The cloud credentials come from the instance profile (AWS)
#      or the service account (GCP) of the node; docs/autoscaler.md lists
#      the IAM permissions and GCP roles.
#   4. Fill in the target config below: the Nomad servers new nodes join,
#      and your images, networks and project.
#
# Then: nomad job run jobspecs/skynomad-autoscaler.nomad.hcl
job "skynomad-autoscaler" {
  type = "service"

  group "autoscaler" {
    count = 1

    network {
      port "http" {}
    }

    task "agent" {
      # raw_exec: the plugins run as subprocesses of the agent and need the
      # node's cloud credentials (instance profile, service account).
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/nomad-autoscaler"
        args    = ["agent", "-config", "${NOMAD_TASK_DIR}/autoscaler.hcl"]
      }

      template {
        destination = "secrets/tokens.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/skynomad-autoscaler" }}
          NOMAD_TOKEN={{ .nomad_token }}
          SKYNOMAD_CONTROLLER_TOKEN={{ .controller_token }}
          {{ end }}
        EOT
      }

      template {
        destination = "local/autoscaler.hcl"
        data        = <<-EOT
          plugin_dir = "/opt/skynomad/plugins"

          http {
            bind_address = "{{ env "NOMAD_IP_http" }}"
            bind_port    = {{ env "NOMAD_PORT_http" }}
          }

          nomad {
            address = "http://{{ env "NOMAD_IP_http" }}:4646"
          }

          policy {
            dir = "/opt/skynomad/policies"
            # Policies come from files only, not from Nomad jobs.
            source "nomad" {
              enabled = false
            }
          }

          apm "skynomad" {
            driver = "skynomad-apm"
            config = {
              {{ range nomadService "skynomad-controller" }}
              controller_address = "http://{{ .Address }}:{{ .Port }}"
              {{ end }}
              controller_token = "{{ env "SKYNOMAD_CONTROLLER_TOKEN" }}"
            }
          }

          target "skynomad" {
            driver = "skynomad-target"
            config = {
              # The servers' RPC addresses the new clients join.
              nomad_servers = "10.0.0.10:4647,10.0.0.11:4647"
              datacenter    = "dc1"
              skynomad_url  = "https://example.com/skynomad/linux-amd64/skynomad"
              plugin_url    = "https://example.com/skynomad/linux-amd64/skypilot"
              boot_timeout  = "10m"

              # AWS (see docs/autoscaler.md for every key)
              ami_ssm_parameter  = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
              security_group_ids = "sg-0123456789abcdef0"
              instance_profile   = "skynomad-node"

              # GCP
              gcp_project     = "my-project"
              network         = "global/networks/default"
              service_account = "skynomad-node@my-project.iam.gserviceaccount.com"
            }
          }
        EOT
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
