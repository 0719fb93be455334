#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, etcd, kubectl) from source through
# the Go module proxy into bin/k8s/<version>/, the layout envtest expects in
# KUBEBUILDER_ASSETS. Each binary is skipped when it is already there, so only the
# first run on a machine pays for the build (about 10 minutes on 2 cores, most of it
# kube-apiserver).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${root}/bin/k8s/${KUBE_VERSION}"
src="${root}/hack/controlplane"
mkdir -p "${out}"

major="${KUBE_VERSION#v}"; major="${major%%.*}"
minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/component-base/version.gitMajor=${major} \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

build() { # name ldflags
	local name="$1" ldflags="$2"
	if [[ -x "${out}/${name}" ]]; then
		return
	fi
	echo ">> building ${name} into ${out} (from source; kube-apiserver takes ~10 minutes on a cold 2-core machine)" >&2
	local start=$SECONDS
	(cd "${src}/${name}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${out}/${name}.tmp" .)
	mv "${out}/${name}.tmp" "${out}/${name}"
	echo ">> built ${name} in $((SECONDS - start))s" >&2
}

build etcd "-s -w"
build kube-apiserver "${kube_ldflags}"
build kubectl "${kube_ldflags}"
echo "${out}"
