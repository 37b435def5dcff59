# slardar: the commands a newcomer and CI run. `make help` lists them.
#
# Variables you may override (make VAR=value or environment):
#   GO                 go binary (default: go)
#   VERSION            version stamped into bin/slardar (default: git describe --always --dirty, else "dev")
#   SLARDAR_CACHE      cache folder for tools built once (default: $HOME/.cache/slardar)
#   SLARDAR_CONSUL_BIN Consul agent used by integration tests
#                      (default: $SLARDAR_CACHE/consul-v1.14.11/consul, built by `make consul` if missing)
#   FUZZTIME           time per fuzz target for `make fuzz` (default: 10s)
#   FUZZPKGS           packages whose Fuzz targets `make fuzz` runs (default: ./...)
#   BENCH_ARGS         flags for the benchmark harness, e.g. BENCH_ARGS='-rounds 1 -only slardar,nginx'
#   IMAGE              tag for `make docker` (default: slardar:$(VERSION))

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO             ?= go
VERSION        ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS        := -X main.version=$(VERSION)
CONSUL_VERSION := v1.14.11
SLARDAR_CACHE  ?= $(HOME)/.cache/slardar
SLARDAR_CONSUL_BIN ?= $(SLARDAR_CACHE)/consul-$(CONSUL_VERSION)/consul
FUZZTIME       ?= 10s
FUZZPKGS       ?= ./...
BENCH_ARGS     ?=
IMAGE          ?= slardar:$(VERSION)

# Integration tests look for the agent here first (then the cache path, then PATH).
export SLARDAR_CONSUL_BIN

.PHONY: help build run test bench bench-consul chaos fuzz lint docker clean consul

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/slardar with the version stamped in
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/slardar ./cmd/slardar

run: ## the quickstart: two demo backends behind slardar's default config (Ctrl-C stops all)
	bash examples/quickstart.sh

test: consul ## vet + race tests of the whole module, integration tests included (what CI runs)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

chaos: consul ## the chaos suite, long mode (~5 min): 0 failed requests under churn; writes integration/chaos/results.md
	$(GO) test -count=1 -v -timeout 15m -run '^TestChaos' ./integration/chaos/ \
	  -args -chaos.long -chaos.results='$(CURDIR)/integration/chaos/results.md'

bench: ## benchmark slardar beside nginx and haproxy (installs them with apt-get if missing)
	$(GO) run ./integration/bench $(BENCH_ARGS)

bench-consul: consul ## Consul change -> first routed request, 100 register/deregister cycles (p50/p99)
	$(GO) test -run '^$$' -bench Propagation -benchtime 1x -v ./integration/bench/propagation/

fuzz: ## run every Fuzz target of the module for FUZZTIME each
	@targets=$$($(GO) test -list '^Fuzz' $(FUZZPKGS) | awk '/^Fuzz/ {names = names " " $$1} \
	  /^ok/ {n = split(names, a, " "); for (i = 1; i <= n; i++) print $$2 " " a[i]; names = ""}'); \
	if [ -z "$$targets" ]; then echo "no Fuzz targets found"; exit 0; fi; \
	while read -r pkg fn; do \
	  echo "== $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

lint: ## gofmt must list nothing, go vet must pass
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

docker: ## build the container image $(IMAGE) (needs a Docker daemon)
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

clean: ## remove build outputs, quickstart data and bench scratch files (keeps the Consul cache)
	rm -rf bin/ data/ integration/bench/out/

consul: $(SLARDAR_CONSUL_BIN) ## build the Consul agent for integration tests into the cache if missing

# Built from the Go module proxy by the wrapper module: ~4 min cold on 2 cores, then cached.
$(SLARDAR_CONSUL_BIN):
	bash integration/consul/build.sh '$(@D)'
	@test -x '$@' || { echo "build.sh wrote $(@D)/consul: SLARDAR_CONSUL_BIN must end in /consul"; exit 1; }
