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
version="$(awk '$1 == "require" && $2 == "github.com/nats-io/nats-server/v2" { print $3; exit }' "$here/go.mod")"
[[ -n "$version" ]] || { echo "nats-server: cannot read the pinned version from $here/go.mod" >&2; exit 1; }

dir="${SHAREDLB_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/bin}"
bin="$dir/nats-server-$version"
mkdir -p "$dir"
stamp="$(cat "$here/go.mod" "$here/go.sum" | cksum | awk '{ print $1 "-" $2 }')"

is_current() {
  [[ -z "${SHAREDLB_NATS_SERVER_FORCE:-}" && -x "$bin" && -f "$bin.stamp" && "$(cat "$bin.stamp")" == "$stamp" ]]
}
publish() {
  ln -sfn "$(basename "$bin")" "$dir/nats-server"
  echo "$dir/nats-server"
}
if is_current; then publish; exit 0; fi

if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.nats-server.lock"
  flock 9
  if is_current; then publish; exit 0; fi
fi

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "nats-server: no Go toolchain found (set GO=/path/to/go or put go on PATH)" >&2; exit 1
  fi
fi

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "nats-server: building $version with $("$GO" version)" >&2
(cd "$here" && "$GO" build -trimpath -ldflags="-s -w" -o "$tmp/nats-server" github.com/nats-io/nats-server/v2)
mv -f "$tmp/nats-server" "$bin"
printf '%s\n' "$stamp" >"$bin.stamp"
publish
