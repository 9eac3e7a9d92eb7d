# skynomad's verbs. CI (.ci/run) calls the same targets.
GO        ?= go
BIN       ?= bin/skynomad
PKGS      ?= ./...
FUZZTIME  ?= 60s
BENCHTIME ?= 1x

.PHONY: help build test race e2e fuzz bench lint tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/skynomad
	$(GO) build -o $(BIN) ./cmd/skynomad

tools: ## install test tools (AWS's IMDS simulator)
	@command -v ec2-metadata-mock >/dev/null 2>&1 || $(GO) install github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@v1.13.0

# With a real cluster (NOMAD_ADDR), packages run one at a time: the spot
# test's handler acts on every skynomad alloc of its node.
TESTP := $(if $(NOMAD_ADDR),-p 1,)

test: tools ## run every test (unit, fakes, e2e on the local engine; Nomad e2e when NOMAD_ADDR is set)
	$(GO) test -count=1 -timeout 20m $(TESTP) $(PKGS)

race: tools ## run the unit and fake-backed tests under the race detector
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /e2e)

e2e: tools ## run only the end-to-end suite against the built binary
	$(GO) test -count=1 -timeout 15m -v ./e2e/

fuzz: ## fuzz the YAML loader for $(FUZZTIME)
	$(GO) test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) ./translator

bench: ## print the speed and memory figures (Nomad ones too when NOMAD_ADDR is set)
	$(GO) test -run='^$$' -bench=. -benchmem ./translator ./catalog
	$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -benchmem -timeout 30m -p 1 ./jobs/... ./e2e/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean: ## remove build output
	rm -rf bin
