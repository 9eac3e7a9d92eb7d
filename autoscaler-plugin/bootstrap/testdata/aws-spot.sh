#!/usr/bin/env bash
# skynomad node bootstrap: makes a fresh instance a Nomad client of one
# offering's node class. skynomad-target renders this file (Go text/template)
# into the instance's user data (AWS cloud-init) or startup-script (GCP);
# replace it with the target config key bootstrap_template = "<file>".
#
# Offering: aws us-east-1 m6i.large spot (node class sky-aws-us-east-1-m6i.large-spot)
set -euo pipefail

NOMAD_VERSION="1.6.1"
SKYNOMAD_URL="https://example.com/skynomad"
PLUGIN_URL="https://example.com/skypilot"

# 1. Who am I: the instance ID the target plugin knows this node by, and the zone.
IMDS=http://169.254.169.254
TOKEN=$(curl -fsS -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")
INSTANCE_ID=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")
ZONE=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/placement/availability-zone")

# 2. Nomad, skynomad (the interrupt handler) and the skypilot task-driver
# plugin, which runs the tasks (raw_exec stays off).
if ! command -v nomad >/dev/null; then
  apt-get update -q && apt-get install -yq unzip curl
  curl -fsSLo /tmp/nomad.zip "https://releases.hashicorp.com/nomad/${NOMAD_VERSION}/nomad_${NOMAD_VERSION}_linux_amd64.zip"
  unzip -o /tmp/nomad.zip -d /usr/local/bin
fi
if [ -n "$SKYNOMAD_URL" ]; then
  curl -fsSLo /usr/local/bin/skynomad "$SKYNOMAD_URL" && chmod 0755 /usr/local/bin/skynomad
fi
mkdir -p /etc/nomad.d /opt/nomad/data /opt/nomad/plugins
if [ -n "$PLUGIN_URL" ]; then
  curl -fsSLo /opt/nomad/plugins/skypilot "$PLUGIN_URL" && chmod 0755 /opt/nomad/plugins/skypilot
fi

# 3. The client config: the offering's node class and the sky.* meta the
# controller's jobs and the interrupt handler select on; the skypilot
# driver, which also publishes the offering as driver.skypilot.* attributes.
cat > /etc/nomad.d/client.hcl <<SKYNOMAD_CLIENT_HCL
datacenter = "dc1"
data_dir   = "/opt/nomad/data"
plugin_dir = "/opt/nomad/plugins"

client {
  enabled    = true
  servers    = ["10.0.0.10:4647", "10.0.0.11:4647"]
  node_class = "sky-aws-us-east-1-m6i.large-spot"
  meta {
    "sky.cloud"         = "aws"
    "sky.region"        = "us-east-1"
    "sky.zone"          = "${ZONE}"
    "sky.instance_type" = "m6i.large"
    "sky.capacity"      = "spot"
    "sky.instance_id"   = "${INSTANCE_ID}"
  }
}

plugin "skypilot" {
  config {
    cloud         = "aws"
    region        = "us-east-1"
    zone          = "${ZONE}"
    instance_type = "m6i.large"
    capacity      = "spot"
    metadata      = "none" # all of it is above
  }
}
SKYNOMAD_CLIENT_HCL

cat > /etc/systemd/system/nomad.service <<'UNIT'
[Unit]
Description=Nomad client (skynomad)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/local/bin/nomad agent -config /etc/nomad.d
KillMode=process
Restart=on-failure
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT

# 4. Spot: the interruption handler, beside the client (the system job in
# jobspecs/skynomad-interrupt-handler.nomad.hcl does the same for nodes
# bootstrapped otherwise; run one or the other).
cat > /etc/systemd/system/skynomad-interrupt-handler.service <<'UNIT'
[Unit]
Description=skynomad spot interruption handler
After=nomad.service

[Service]
Environment=NOMAD_ADDR=http://127.0.0.1:4646
ExecStart=/usr/local/bin/skynomad interrupt-handler --alloc-root /opt/nomad/data/alloc
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now nomad.service
systemctl enable --now skynomad-interrupt-handler.service
