#!/usr/bin/env bash
# Builds the pinned nats-server (go.mod) from the Go module proxy into a cache dir outside the
# repository and prints the binary's path on stdout (the only line written to stdout).
#
#   tools/nats-server/build.sh                # build if missing, print the path
#   SHAREDLB_BIN_DIR=/x build.sh              # cache in /x instead of ~/.cache/sharedlb/bin
#   SHAREDLB_NATS_SERVER_FORCE=1 build.sh     # rebuild even if the binary is current
#
# Why pinned and built: tenant isolation relies on 2.10+ (the consumer-create API subject
# carries the filter subject, so permissions can bind a tenant to its own subjects; see
# docs/security.md). Distribution packages lag (Debian ships 2.9), so tests and the local
# run use exactly this version.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO_BUILD_PINNED_FORCE="${SHAREDLB_NATS_SERVER_FORCE:-}" exec "$here/../go-build-pinned.sh" "$here" nats-server \
  github.com/nats-io/nats-server/v2 github.com/nats-io/nats-server/v2
