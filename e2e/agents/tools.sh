#!/usr/bin/env bash
# Builds the real agents the tests run against, from the Go module proxy,
# into a cache keyed by version. Nothing of them is committed.
#
#   nomad        github.com/hashicorp/nomad@v1.6.1        (MPL-2.0 at this tag)
#   consul       github.com/hashicorp/consul@v1.16.3      (MPL-2.0 at this tag)
#   nomad-autoscaler github.com/hashicorp/nomad-autoscaler@v0.5.0
#   ec2-metadata-mock github.com/aws/amazon-ec2-metadata-mock@v1.13.0
#
# Prints nothing but progress; the binaries land in $SKYNOMAD_TOOLS
# (default ~/.cache/skynomad-tools/bin), which `make test` puts on PATH.
set -euo pipefail

NOMAD_VERSION=v1.6.1
NOMAD_API_AT_TAG=v0.0.0-20230721134942-515895c7690c
CONSUL_VERSION=v1.16.3
AUTOSCALER_VERSION=v0.5.0
AEMM_VERSION=v1.13.0

cache="${SKYNOMAD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skynomad-tools}"
bin="${SKYNOMAD_TOOLS:-$cache/bin}"
mkdir -p "$bin"

# have NAME VERSION: true when bin/NAME was built from VERSION.
have() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }
mark() { echo "$2" >"$bin/.$1.version"; }

# scratch DIR: a fresh module to build one agent in.
scratch() {
  rm -rf "$1"; mkdir -p "$1"
  printf 'module scratch\n\ngo 1.21\n' >"$1/go.mod"
}

timed() {
  local name=$1; shift
  local start=$SECONDS
  echo "tools: building $name" >&2
  "$@"
  echo "tools: $name ready in $((SECONDS - start)) s" >&2
}

build_nomad() {
  local d="$cache/src/nomad"
  scratch "$d"
  cat >>"$d/go.mod" <<MOD

replace (
	github.com/Microsoft/go-winio => github.com/endocrimes/go-winio v0.4.13-0.20190628114223-fb47a8b41948
	github.com/armon/go-metrics => github.com/armon/go-metrics v0.0.0-20230509193637-d9ca9af9f1f9
	github.com/hashicorp/hcl => github.com/hashicorp/hcl v1.0.1-0.20201016140508-a07e7d50bbee
)
MOD
  (cd "$d" &&
    GOFLAGS=-mod=mod go get "github.com/hashicorp/nomad@$NOMAD_VERSION" &&
    GOFLAGS=-mod=mod go get "github.com/hashicorp/nomad/api@$NOMAD_API_AT_TAG" &&
    GOFLAGS=-mod=mod go build -o "$bin/nomad" github.com/hashicorp/nomad)
  mark nomad "$NOMAD_VERSION"
}

build_consul() {
  local d="$cache/src/consul"
  scratch "$d"
  cat >>"$d/go.mod" <<MOD

exclude (
	github.com/hashicorp/go-msgpack v1.1.5
	github.com/hashicorp/go-msgpack v1.1.6
)
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/hashicorp/consul"\n' >"$d/tools.go"
  (cd "$d" &&
    GOFLAGS=-mod=mod go get "github.com/hashicorp/consul@$CONSUL_VERSION" &&
    GOFLAGS=-mod=mod go build -o "$bin/consul" github.com/hashicorp/consul)
  mark consul "$CONSUL_VERSION"
}

build_autoscaler() {
  local d="$cache/src/nomad-autoscaler"
  scratch "$d"
  (cd "$d" &&
    GOFLAGS=-mod=mod go get "github.com/hashicorp/nomad-autoscaler@$AUTOSCALER_VERSION" &&
    GOFLAGS=-mod=mod go build -o "$bin/nomad-autoscaler" github.com/hashicorp/nomad-autoscaler)
  mark nomad-autoscaler "$AUTOSCALER_VERSION"
}

build_aemm() {
  GOBIN="$bin" go install "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$AEMM_VERSION"
  mark ec2-metadata-mock "$AEMM_VERSION"
}

have ec2-metadata-mock "$AEMM_VERSION" || timed ec2-metadata-mock build_aemm
have nomad "$NOMAD_VERSION" || timed nomad build_nomad
have consul "$CONSUL_VERSION" || timed consul build_consul
have nomad-autoscaler "$AUTOSCALER_VERSION" || timed nomad-autoscaler build_autoscaler
echo "tools: $bin" >&2
