#!/usr/bin/env bash
# Sorts the module's test packages into the three tiers `make test` runs:
#
#   unit         pure Go: no control plane, no slapd/PostgreSQL/SCIM server, no
#                built binaries; seconds
#   integration  envtest's kube-apiserver and etcd, and/or the real provider servers
#   e2e          the built operator against a local control plane, driven by kubectl
#
# Usage: hack/test-tiers.sh TIER...   print the packages of the tiers (unit,
#                                     integration, e2e), one a line
#        hack/test-tiers.sh check     fail unless every test package is in
#                                     exactly one tier
#
# Why package lists and not build tags: the integration and e2e tiers are a short
# list of patterns here, and every other package with tests is unit, so a new
# package always runs somewhere. With tags, a file that forgets its tag is
# silently compiled into the wrong tier, and tagged files drop out of gopls, vet
# and the linter unless each of them is told the tags.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Packages whose tests start a control plane or a provider's server. A
# pattern that matches no test package fails the check (a renamed package
# must not fall into the unit tier unnoticed).
integration_patterns=(
	./internal/controller/...            # envtest, with the webhooks
	./internal/webhook/...               # envtest, with the webhooks
	./internal/localcluster/...          # starts kube-apiserver and etcd from bin/k8s
	./internal/activity/leaderlabel/...  # envtest
	./internal/provider/ldap/...         # slapd
	./internal/provider/postgres/...     # PostgreSQL
	./internal/provider/scim/...         # the scimmy SCIM server (node)
	./test/providers/...                 # envtest, slapd, PostgreSQL and scimmy
	./test/activity/...                  # kube-apiserver posting audit events to the receiver (localcluster)
	./test/schema/...                    # envtest and kubectl
)
e2e_patterns=(
	./test/e2e/...                       # the built operator, a local control plane, kubectl, kustomize
	./test/alerts/...                    # the built operator, a local control plane, kubectl; its metrics in the PromQL engine
)

# Test imports that mean a package starts a server: a unit package with one of
# them belongs in integration_patterns.
server_imports=(
	sigs.k8s.io/controller-runtime/pkg/envtest
	github.com/elevator-dev/elevator/internal/localcluster
	github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest
	github.com/elevator-dev/elevator/internal/provider/postgres/pgtest
	github.com/elevator-dev/elevator/internal/provider/scim/scimtest
)

with_tests='{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}'

# test_packages PATTERN... lists the packages with tests the patterns match.
test_packages() { go list -f "$with_tests" "$@" | sed '/^$/d' | sort; }

integration() { test_packages "${integration_patterns[@]}"; }
e2e() { test_packages "${e2e_patterns[@]}"; }
# unit is every package with tests that no other tier claims. The lists are
# read into variables first, so that a failing `go list` stops the script
# instead of leaving an empty list inside a process substitution.
unit() {
	local all integration_pkgs e2e_pkgs
	all=$(test_packages ./...)
	integration_pkgs=$(integration)
	e2e_pkgs=$(e2e)
	comm -23 <(echo "$all") <(printf '%s\n%s\n' "$integration_pkgs" "$e2e_pkgs" | sed '/^$/d' | sort -u)
}

check() {
	local failed=0 pattern n
	for pattern in "${integration_patterns[@]}" "${e2e_patterns[@]}"; do
		if [[ -z "$(test_packages "$pattern" 2>/dev/null)" ]]; then
			echo "test-tiers: $pattern (in hack/test-tiers.sh) matches no package with tests" >&2
			failed=1
		fi
	done
	# The tiers below cannot be computed from a pattern that matches nothing.
	((failed == 0)) || return 1
	local unit_pkgs integration_pkgs e2e_pkgs counts
	unit_pkgs=$(unit)
	integration_pkgs=$(integration)
	e2e_pkgs=$(e2e)
	counts=$(printf '%s\n%s\n%s\n' "$unit_pkgs" "$integration_pkgs" "$e2e_pkgs" | sed '/^$/d' | sort | uniq -c)
	while read -r n pkg; do
		if ((n != 1)); then
			echo "test-tiers: $pkg is in $n tiers; it must be in exactly one" >&2
			failed=1
		fi
	done <<<"$counts"
	local missing
	missing=$(comm -23 <(test_packages ./...) <(awk '{print $2}' <<<"$counts"))
	if [[ -n "$missing" ]]; then
		echo "test-tiers: in no tier, so \`make test\` would not run them:" $missing >&2
		failed=1
	fi
	local pkg imports imp server
	while read -r pkg imports; do
		grep -qx -- "$pkg" <<<"$unit_pkgs" || continue
		for imp in $(tr ' ' '\n' <<<"$imports" | sort -u); do
			for server in "${server_imports[@]}"; do
				if [[ $imp == "$server" ]]; then
					echo "test-tiers: $pkg is in the unit tier but its tests import $server: add it to integration_patterns" >&2
					failed=1
				fi
			done
		done
	done < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...)
	return "$failed"
}

usage() {
	echo "usage: $0 unit|integration|e2e... | check" >&2
	exit 2
}

(($#)) || usage
for tier in "$@"; do
	case "$tier" in
	unit | integration | e2e | check) "$tier" ;;
	*) usage ;;
	esac
done
