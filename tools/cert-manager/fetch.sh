#!/usr/bin/env bash
# Fetches cert-manager's CRDs (deploy/crds/ of the Go module github.com/cert-manager/cert-manager)
# through the Go module proxy into a cache dir outside the repository, and prints that
# directory on stdout (the only line written to stdout). Tests install them to dry-run the
# shipped Issuers and Certificates (deploy/k8s/lb/cert-manager, the Helm chart).
#
#   tools/cert-manager/fetch.sh                     # fetch if missing, print the directory
#   SHAREDLB_CERT_MANAGER_DIR=/x fetch.sh           # use /x/<version>/ as the cache
#
# The release is pinned with its module hash (the go.sum `h1:`), checked by the helper.
set -euo pipefail

VERSION="v1.21.2"
MODULE_H1="h1:UWgoYM+KLNtRlqmoWOKjKBOBUPVHeepQ6/ac3ERJW68="

exec "$(dirname "$0")/../go-module-files.sh" cert-manager github.com/cert-manager/cert-manager "$VERSION" "$MODULE_H1" deploy/crds \
  "${SHAREDLB_CERT_MANAGER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/cert-manager}"
