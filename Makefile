# skynomad's verbs. CI (.ci/run) calls the same targets.
GO        ?= go
BIN       ?= bin/skynomad
PKGS      ?= ./...
FUZZTIME  ?= 60s
BENCHTIME ?= 1x

.PHONY: help build plugin test race e2e fuzz bench lint tools clean catalog-data

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: plugin ## build bin/skynomad, bin/skynomad-runner (the local engine's task runner), the task-driver plugin and the autoscaler plugins in bin/plugins/
	$(GO) build -o $(dir $(BIN)) ./cmd/skynomad ./cmd/skynomad-runner
	$(GO) build -o $(dir $(BIN))plugins/ ./cmd/skynomad-target ./cmd/skynomad-apm

# The task-driver plugin is static: image tasks run it inside the image.
plugin: ## build the Nomad task-driver plugin bin/plugins/skypilot
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))plugins/skypilot ./cmd/skypilot

# The test tools (Nomad 1.6.1, Consul 1.16.3, nomad-autoscaler v0.5.0,
# AWS's IMDS simulator) are built from the Go module proxy into a cache,
# never committed, and come first on PATH for every target.
TOOLS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/skynomad-tools/bin
export SKYNOMAD_TOOLS := $(TOOLS)
export PATH := $(TOOLS):$(PATH)

tools: ## build the test tools into ~/.cache/skynomad-tools (Nomad, Consul, autoscaler, IMDS simulator)
	@e2e/agents/tools.sh

# AGENTS runs a command against a Nomad server with two clients that load
# the skypilot task-driver plugin (raw_exec off) and a Consul dev agent on
# loopback, started for it and stopped after it; NOMAD_ADDR /
# CONSUL_HTTP_ADDR set by the caller win (see e2e/agents).
# exec: make sends its SIGTERM to its child, which must be the starter.
AGENTS = $(GO) build -o bin/skynomad-agents ./e2e/agents && exec bin/skynomad-agents --

# With a real cluster, packages run one at a time: the spot test's handler
# acts on every skynomad alloc of its node.
TESTP = $(if $(NOMAD_ADDR)$(wildcard $(TOOLS)/nomad),-p 1,)

# REPORT prints package results, failures whole, skips with their reasons
# and which tests ran on the real agents (e2e/testreport).
REPORT = bin/testreport -- $(GO) test -json

test: tools plugin bin/testreport ## run every test (unit, fakes, e2e on the local engine and on the real agents)
	$(AGENTS) $(REPORT) -count=1 -timeout 20m $(TESTP) $(PKGS)

race: tools plugin bin/testreport ## run the unit, fake-backed and real-agent tests under the race detector
	$(AGENTS) $(REPORT) -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /e2e)

e2e: tools plugin ## run only the end-to-end suite against the built binary
	$(AGENTS) $(GO) test -count=1 -timeout 15m -v ./e2e/

fuzz: ## fuzz the YAML loader for $(FUZZTIME)
	$(GO) test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) ./translator

bench: tools plugin ## print the speed and memory figures (Nomad ones on the real agents)
	$(GO) test -run='^$$' -bench=. -benchmem ./translator ./catalog ./driver/taskdriver ./dashboard
	$(GO) test -run='^$$' -bench=Upload -benchtime=1x -benchmem ./bucket
	$(AGENTS) $(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -benchmem -timeout 30m -p 1 ./jobs/... ./autoscaler-plugin/... ./e2e/

# CATALOG_PARTS holds rows of SkyPilot's catalogs/v7/<cloud>/vms.csv,
# verbatim and without header, in <cloud>-*.csv files.
CATALOG_PARTS ?= /tmp/catalog-parts

catalog-data: ## rebuild the embedded catalog (catalog/data/v7/*/vms.csv.gz) from the part files in $(CATALOG_PARTS)
	$(GO) run ./catalog/internal/mkcatalog -parts $(CATALOG_PARTS) -out catalog/data

bin/testreport: e2e/testreport/*.go internal/realagent/*.go
	$(GO) build -o $@ ./e2e/testreport

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean: ## remove build output
	rm -rf bin
