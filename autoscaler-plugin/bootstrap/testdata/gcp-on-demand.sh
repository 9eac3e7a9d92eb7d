#!/usr/bin/env bash
# skynomad node bootstrap: makes a fresh instance a Nomad client of one
# offering's node class. skynomad-target renders this file (Go text/template)
# into the instance's user data (AWS cloud-init) or startup-script (GCP);
# replace it with the target config key bootstrap_template = "<file>".
#
# Offering: gcp us-central1 n2-standard-8 on-demand (node class sky-gcp-us-central1-n2-standard-8-on-demand)
set -euo pipefail

NOMAD_VERSION="1.6.1"
SKYNOMAD_URL=""
PLUGIN_URL=""

# 1. Who am I: the instance ID the target plugin knows this node by, and the zone.
MD=http://metadata.google.internal/computeMetadata/v1/instance
ZONE=$(curl -fsS -H "Metadata-Flavor: Google" "$MD/zone" | sed 's#.*/##')
INSTANCE_ID="$ZONE/$(curl -fsS -H "Metadata-Flavor: Google" "$MD/name")"

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
datacenter = "gcp-dc"
data_dir   = "/opt/nomad/data"
plugin_dir = "/opt/nomad/plugins"

client {
  enabled    = true
  servers    = ["nomad.internal:4647"]
  node_class = "sky-gcp-us-central1-n2-standard-8-on-demand"
  meta {
    "sky.cloud"         = "gcp"
    "sky.region"        = "us-central1"
    "sky.zone"          = "${ZONE}"
    "sky.instance_type" = "n2-standard-8"
    "sky.capacity"      = "on-demand"
    "sky.instance_id"   = "${INSTANCE_ID}"
  }
}

plugin "skypilot" {
  config {
    cloud         = "gcp"
    region        = "us-central1"
    zone          = "${ZONE}"
    instance_type = "n2-standard-8"
    capacity      = "on-demand"
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

systemctl daemon-reload
systemctl enable --now nomad.service
