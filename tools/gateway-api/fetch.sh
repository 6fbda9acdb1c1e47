#!/usr/bin/env bash
# Fetches the Gateway API standard-channel CRDs (config/crd/standard/ of the Go module
# sigs.k8s.io/gateway-api) through the Go module proxy into a cache dir outside the
# repository, and prints that directory on stdout (the only line written to stdout).
#
#   tools/gateway-api/fetch.sh                      # fetch if missing, print the directory
#   SHAREDLB_GATEWAY_API_DIR=/x fetch.sh            # use /x/<version>/ as the cache
#
# The release is pinned below together with its module hash (the go.sum `h1:` line, which
# the checksum database also serves); the script checks the hash itself, so a cache or a
# proxy can never hand the tests other CRDs. Only YAML is used: nothing is built.
set -euo pipefail

VERSION="v1.7.0"
MODULE_H1="h1:duVnm7nO6oXfMMUWfcDoBph47CYR/ME3NGxccOVglaY="

# Only the standard channel; the module's go.mod asks for Go >= 1.27, which does not matter
# here (tools/go-module-files.sh only downloads).
exec "$(dirname "$0")/../go-module-files.sh" gateway-api sigs.k8s.io/gateway-api "$VERSION" "$MODULE_H1" config/crd/standard \
  "${SHAREDLB_GATEWAY_API_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/gateway-api}"
