#!/usr/bin/env bash
# Builds the pinned Helm (go.mod) from the Go module proxy into a cache dir outside the
# repository and prints the binary's path on stdout (the only line written to stdout).
#
#   tools/helm/build.sh                # build if missing, print the path
#   SHAREDLB_BIN_DIR=/x build.sh       # cache in /x instead of ~/.cache/sharedlb/bin
#   SHAREDLB_HELM_FORCE=1 build.sh     # rebuild even if the binary is current
#
# Why built: the charts in deploy/helm are linted and rendered by the tests
# (test/integration/src/helm.int.test.ts) with exactly this version, on machines that have
# Go but no Helm package.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v4" { print $3; exit }' "$here/go.mod")"
# `helm version` reports what upstream releases set at link time too.
GO_BUILD_PINNED_FORCE="${SHAREDLB_HELM_FORCE:-}" exec "$here/../go-build-pinned.sh" "$here" helm helm.sh/helm/v4 \
  helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$version"
