# Roster's build. Every tool comes from go.mod (controller-gen is a Go tool)
# or from hack/ (the envtest control plane, built from the Go module proxy).

IMG ?= roster:latest
MODULE = github.com/roster-dev/roster
GO ?= go
CONTROLLER_GEN ?= $(GO) tool controller-gen
# Where hack/envtest.sh caches kube-apiserver, etcd and kubectl (outside the clone).
ENVTEST_DIR = $(shell hack/envtest.sh print-dir)
TEST_FLAGS ?= -count=1 -timeout 45m
BENCH ?= .
# What `roster version` prints, from git.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS = -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
BENCH_FLAGS ?= -benchmem -benchtime 1x -timeout 60m

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: ## Generate the CRDs and the controllers' RBAC from the markers.
	$(CONTROLLER_GEN) rbac:roleName=roster-controllers crd paths="./api/...;./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: ## Generate the DeepCopy methods and the directory's OpenAPI definitions.
	$(CONTROLLER_GEN) object paths="./api/...;./apiserver/apis/..."
	$(GO) tool openapi-gen --go-header-file hack/boilerplate.go.txt \
		--output-dir apiserver/generated/openapi --output-pkg $(MODULE)/apiserver/generated/openapi \
		--output-file zz_generated.openapi.go --report-filename /dev/null \
		--output-model-name-file zz_generated.model_name.go \
		--readonly-pkg k8s.io/apimachinery/pkg/apis/meta/v1 --readonly-pkg k8s.io/apimachinery/pkg/runtime \
		--readonly-pkg k8s.io/apimachinery/pkg/version \
		k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version \
		$(MODULE)/apiserver/apis/directory/v1alpha1

.PHONY: fmt
fmt: ## Run gofmt on the code.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet on the code.
	$(GO) vet ./...

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl for envtest (cached outside the clone).
	hack/envtest.sh

.PHONY: test
test: manifests generate fmt vet envtest ## Run every test against a real kube-apiserver and etcd.
	KUBEBUILDER_ASSETS="$(ENVTEST_DIR)" $(GO) test $(TEST_FLAGS) ./...

.PHONY: bench
bench: envtest ## Run the benchmarks (see docs/benchmarks.md).
	KUBEBUILDER_ASSETS="$(ENVTEST_DIR)" $(GO) test -run '^$$' -bench '$(BENCH)' $(BENCH_FLAGS) ./...

.PHONY: verify
verify: manifests generate fmt ## Fail when generated files or go.mod are stale.
	$(GO) mod tidy
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "verify: these files are stale; run 'make manifests generate fmt' and 'go mod tidy':"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

PEER_SIZES ?= 1000,10000,100000
.PHONY: bench-peer
bench-peer: ## Run the engine beside PostgreSQL on the same data and queries (Debian's package; docs/benchmarks.md).
	GO=$(GO) PEER_SIZES=$(PEER_SIZES) hack/bench-peer.sh

FUZZ_REQUESTS ?= 20000
FUZZ_TIME ?= 2m
.PHONY: fuzz
fuzz: envtest ## Fuzz the directory over HTTP and its parsers, longer than make test does (FUZZ_REQUESTS, FUZZ_TIME).
	KUBEBUILDER_ASSETS="$(ENVTEST_DIR)" ROSTER_FUZZ_REQUESTS=$(FUZZ_REQUESTS) $(GO) test -count=1 -timeout 60m ./apiserver/server \
		-ginkgo.focus='Fuzz answers random' -ginkgo.v
	$(GO) test -run '^$$' -fuzz '^FuzzCompileFilter$$' -fuzztime $(FUZZ_TIME) ./apiserver/query
	$(GO) test -run '^$$' -fuzz '^FuzzParseListRequest$$' -fuzztime $(FUZZ_TIME) ./apiserver/query

##@ Run

RUN_FLAGS ?=
.PHONY: run
run: envtest ## Run a complete Roster on this machine with sample data (RUN_FLAGS=--reset starts over).
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/roster .
	exec bin/roster local --assets "$(ENVTEST_DIR)" $(RUN_FLAGS)

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the roster binary.
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/roster .

# Where `make install-plugin` puts kubectl-roster; kubectl finds plugins on PATH.
PLUGIN_DIR ?= $(shell $(GO) env GOPATH)/bin
.PHONY: install-plugin
install-plugin: ## Install roster as the kubectl plugin kubectl-roster in PLUGIN_DIR (default: GOPATH/bin).
	mkdir -p "$(PLUGIN_DIR)"
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o "$(PLUGIN_DIR)/kubectl-roster" .

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
