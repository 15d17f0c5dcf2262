#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) and kubectl from the Go
# module proxy, since no release site is reachable. Binaries are cached outside
# the clone, keyed by version, so every clone on a machine shares them.
#
# Usage: hack/envtest.sh [print-dir]
#   with no argument: build what is missing, then print the asset directory.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
CACHE_ROOT="${ROSTER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roster}"
ASSETS="${CACHE_ROOT}/envtest/k8s-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
WORK="${CACHE_ROOT}/envtest/src"
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO="${GO:-go}"

if [[ "${1:-}" == "print-dir" ]]; then
  echo "${ASSETS}"
  exit 0
fi

log() { echo "envtest: $*" >&2; }

# Module builds here must not inherit the project's workspace or vendor mode.
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

build_kube() {
  local mod="${WORK}/kubernetes-${KUBE_VERSION}"
  mkdir -p "${mod}"
  log "preparing the kubernetes ${KUBE_VERSION} wrapper module in ${mod}"
  local gomod
  gomod="$(cd "${mod}" && "${GO}" mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "module roster.dev/envtest/kubernetes"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "${gomod}"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    # Every staging module that k8s.io/kubernetes replaces with ./staging/src/...
    # is published under the matching v0.x version.
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"${STAGING_VERSION}"'#p' "${gomod}"
    echo ")"
  } >"${mod}/go.mod"
  cat >"${mod}/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "${mod}" && "${GO}" mod tidy -e >/dev/null 2>&1 || true)
  (cd "${mod}" && "${GO}" get "k8s.io/kubernetes@${KUBE_VERSION}" >/dev/null)

  local major minor
  major="${KUBE_VERSION#v}"; major="${major%%.*}"
  minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
  local date
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${date}"
  done
  mkdir -p "${ASSETS}.tmp"
  for cmd in kube-apiserver kubectl; do
    if [[ ! -x "${ASSETS}/${cmd}" ]]; then
      log "building ${cmd} ${KUBE_VERSION} (cold, kube-apiserver takes about 10 minutes on 2 cores)"
      (cd "${mod}" && "${GO}" build -trimpath -ldflags "${ldflags}" -o "${ASSETS}.tmp/${cmd}" "k8s.io/kubernetes/cmd/${cmd}")
      mkdir -p "${ASSETS}"
      mv "${ASSETS}.tmp/${cmd}" "${ASSETS}/${cmd}"
    fi
  done
}

build_etcd() {
  local mod="${WORK}/etcd-${ETCD_VERSION}"
  mkdir -p "${mod}"
  log "building etcd ${ETCD_VERSION}"
  cp "${HACK_DIR}/envtest/etcd/main.go.tmpl" "${mod}/main.go"
  printf 'module roster.dev/envtest/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "${ETCD_VERSION}" >"${mod}/go.mod"
  (cd "${mod}" && "${GO}" mod tidy >/dev/null)
  mkdir -p "${ASSETS}.tmp"
  (cd "${mod}" && "${GO}" build -trimpath -ldflags "-s -w" -o "${ASSETS}.tmp/etcd" .)
  mkdir -p "${ASSETS}"
  mv "${ASSETS}.tmp/etcd" "${ASSETS}/etcd"
}

[[ -x "${ASSETS}/etcd" ]] || build_etcd
[[ -x "${ASSETS}/kube-apiserver" && -x "${ASSETS}/kubectl" ]] || build_kube
rm -rf "${ASSETS}.tmp"
echo "${ASSETS}"
