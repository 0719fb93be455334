#!/usr/bin/env bash
# make run: run the Elevator operator.
#
# With no cluster configured (KUBECONFIG unset) or LOCAL=1, it starts a local
# control plane (the kube-apiserver and etcd in bin/k8s, built by
# `make controlplane`), runs the operator there as its own ServiceAccount with
# its webhooks, applies config/samples and prints the commands to try. Ctrl-C
# stops everything.
#
# With KUBECONFIG set (and LOCAL unset), it runs the operator against that
# cluster, as kubebuilder's `make run` does. The webhooks are off then
# (ENABLE_WEBHOOKS=true turns them on; the apiserver must be able to call this
# machine, with certificates in /tmp/k8s-webhook-server/serving-certs). Extra
# manager flags go in ARGS, e.g. ARGS="--max-duration=4h".
set -euo pipefail
cd "$(dirname "$0")/.."

case "${LOCAL:-}" in
1 | true | yes) local_cluster=1 ;;
*) [[ -z "${KUBECONFIG:-}" ]] && local_cluster=1 || local_cluster=0 ;;
esac

if [[ "$local_cluster" == 0 ]]; then
	echo ">> running the operator against the cluster of KUBECONFIG=${KUBECONFIG} (LOCAL=1 starts a local control plane instead)"
	# shellcheck disable=SC2086 # ARGS is a list of flags
	exec go run ./cmd --enable-webhooks="${ENABLE_WEBHOOKS:-false}" ${ARGS:-}
fi

mkdir -p bin
go build -o bin/elevator-run ./hack/run
go build -o bin/kubectl-elevate ./cmd/kubectl-elevate
# shellcheck disable=SC2086
exec bin/elevator-run ${ARGS:-}
