# Elevator — a Kubernetes operator for temporary elevated access.
#
#   make run    run the operator (on an embedded local control plane when no cluster is configured)
#   make test   build what the tests need, lint, and run every test against real servers
#               (its parts: test-unit, test-integration, test-e2e, fuzz, lint; see `make help`)

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

KUBE_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.6.16
LOCALBIN ?= $(CURDIR)/bin
export KUBEBUILDER_ASSETS ?= $(LOCALBIN)/k8s/$(KUBE_VERSION)

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
GOLANGCI_LINT_VERSION ?= v2.15.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# How long `make test` runs each fuzz target; `make fuzz FUZZTIME=10m` runs longer.
FUZZTIME ?= 10s
GO_TEST_FLAGS ?= -count=1 -timeout 40m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/...;./internal/...;./cmd/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods, and the argocd-cm patch from config/argocd/*.lua.
	$(CONTROLLER_GEN) object:headerFile="" paths="./api/..."
	go generate ./config/argocd

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint with the policy in .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: controlplane
controlplane: ## Build kube-apiserver, etcd and kubectl from source into bin/k8s/ (cached).
	KUBE_VERSION=$(KUBE_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/build-controlplane.sh >/dev/null

.PHONY: test-deps
test-deps: ## Install the real servers the provider tests run against (slapd, PostgreSQL, the scimmy SCIM server).
	hack/install-test-deps.sh

##@ Test

# The tiers of `make test`, each runnable alone. hack/test-tiers.sh says which
# package is in which tier (everything not listed as integration or e2e is
# unit); `make check-test-tiers` fails when a package is in no tier or in two.
# PKGS runs a tier on some packages only: make test-integration PKGS=./test/schema/...
# (a failing hack/test-tiers.sh stops the recipe: the assignment `pkgs=$(...)` fails under -e).
# The tiers test the generated CRDs and RBAC as they are in the tree: after
# changing API markers, `make manifests generate` (which `make test` runs first).
PKGS ?=

# `make test` runs the unit tier on its own (it takes seconds), then the
# integration and e2e tiers in one `go test`: go test runs packages in parallel,
# so the e2e suite overlaps the long integration suites as it did when
# everything was one `go test ./...`, instead of starting after the slowest of
# them. The short fault suite (make chaos-short, about 4 minutes) runs after
# them, alone, since it measures lags. The log of all of it, lint and fuzz
# included, is bin/test.log.
#
# make runs this recipe even under `make -n`, since it calls $(MAKE): a dry run
# must not overwrite the last real log.
TEE_TEST_LOG = $(if $(findstring n,$(firstword -$(MAKEFLAGS))),,| tee $(LOCALBIN)/test.log)

.PHONY: test
test: manifests generate fmt vet ## Run everything CI runs: lint, the tier check, unit, integration and e2e tests, the short fault suite, fuzz.
	@{ $(MAKE) --no-print-directory lint && \
		$(MAKE) --no-print-directory check-test-tiers && \
		$(MAKE) --no-print-directory test-unit && \
		$(MAKE) --no-print-directory test-integration-e2e && \
		$(MAKE) --no-print-directory chaos-short && \
		$(MAKE) --no-print-directory fuzz; } 2>&1 $(TEE_TEST_LOG)

.PHONY: check-test-tiers
check-test-tiers: ## Fail unless every test package is in exactly one tier.
	hack/test-tiers.sh check

# KUBEBUILDER_ASSETS points nowhere in the unit tier, so that a unit test that
# starts a control plane fails here instead of making the tier slow.
.PHONY: test-unit
test-unit: ## Unit tests: pure Go, no servers, no built binaries; seconds.
	pkgs="$(or $(PKGS),$$(hack/test-tiers.sh unit))"; \
		KUBEBUILDER_ASSETS=$(LOCALBIN)/no-control-plane-in-the-unit-tier go test $(GO_TEST_FLAGS) $$pkgs

.PHONY: test-integration
test-integration: controlplane test-deps ## Integration tests: envtest suites and the provider suites against real slapd, PostgreSQL and SCIM servers.
	pkgs="$(or $(PKGS),$$(hack/test-tiers.sh integration))"; go test $(GO_TEST_FLAGS) $$pkgs

.PHONY: test-e2e
test-e2e: controlplane kustomize ## End-to-end tests: the built operator on a local control plane, driven with kubectl.
	pkgs="$(or $(PKGS),$$(hack/test-tiers.sh e2e))"; go test $(GO_TEST_FLAGS) $$pkgs

.PHONY: test-integration-e2e
test-integration-e2e: controlplane test-deps kustomize ## The integration and e2e tiers in one parallel `go test` (what `make test` runs).
	pkgs="$(or $(PKGS),$$(hack/test-tiers.sh integration e2e))"; go test $(GO_TEST_FLAGS) $$pkgs

# The fault suite (docs/reliability.md): two operator replicas with leader
# election, kill -9, a leader failover at expiry, downstream outages (slapd,
# PostgreSQL, the SCIM server), a kube-apiserver restart and a rollout, under an independent checker
# (the full form adds a hung slapd, an etcd restart and a backlog); non-zero on any invariant violation. CHAOS_ARGS passes flags, e.g.
# CHAOS_ARGS="-seed 42 -duration 10m". Logs in bin/chaos/.
.PHONY: chaos-short
chaos-short: controlplane test-deps ## The short fault suite (a few minutes; part of test): 10 kills, one failover, one 30 s outage, one apiserver restart, one rollout.
	go run ./hack/chaos -short $(CHAOS_ARGS)

.PHONY: chaos
chaos: manifests generate controlplane test-deps ## The full fault suite: a longer kill sweep, three failovers, an outage of each server, a hung slapd, an apiserver restart, an etcd restart, a backlog, a rollout (CHAOS_ARGS="-only etcd,hang" for some).
	go run ./hack/chaos $(CHAOS_ARGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME.
	@for pkg_target in $$(hack/fuzz-targets.sh); do \
		pkg=$${pkg_target%%:*}; target=$${pkg_target##*:}; \
		echo ">> fuzzing $$target in $$pkg for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary and the kubectl elevate plugin.
	go build -o $(LOCALBIN)/elevator ./cmd
	go build -o $(LOCALBIN)/kubectl-elevate ./cmd/kubectl-elevate

.PHONY: run
run: manifests generate controlplane ## Run the operator: on an embedded control plane when no cluster is configured.
	hack/run.sh

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml with CRDs, RBAC, webhooks and the Deployment.
	mkdir -p dist
	$(KUSTOMIZE) build config/default > dist/install.yaml

.PHONY: bench
bench: manifests generate controlplane ## Benchmark the audit receiver's ingest rate, then grant and revocation latency, memory and API requests at N=100,1000,10000 (BENCH_ARGS="-n 100"); not part of test.
	go test -run '^$$' -bench . -benchtime 3s ./internal/activity/kubeaudit/
	go run ./hack/bench $(BENCH_ARGS)

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

# go-install-tool installs package $(2) at version $(3) as $(1), a versioned file name.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
echo ">> installing $(2)@$(3)"; \
tmp=$$(mktemp -d); \
GOBIN=$$tmp go install $(2)@$(3); \
mv $$tmp/* "$(1)"; \
rm -rf $$tmp; \
}
endef
