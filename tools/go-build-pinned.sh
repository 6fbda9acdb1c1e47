#!/usr/bin/env bash
# Builds a Go command pinned by a tools/<name> module (its go.mod and go.sum) from the Go
# module proxy into a cache dir outside the repository, and prints the binary's path on
# stdout (the only line written to stdout; progress goes to stderr). Used by
# tools/nats-server/build.sh and tools/helm/build.sh.
#
#   go-build-pinned.sh <module dir> <name> <module> <package> [extra -ldflags]
#
#   <name>     the binary: <cache>/<name>-<version>, symlinked as <cache>/<name>
#   <module>   the pinned module in go.mod (its version names the binary)
#   <package>  the main package to build
#   SHAREDLB_BIN_DIR=/x      cache in /x instead of ~/.cache/sharedlb/bin
#   GO_BUILD_PINNED_FORCE=1  rebuild even if the binary is current
#
# A binary is current when it was built from the same go.mod and go.sum (a stamp file
# beside it). Concurrent runs are serialised with flock(1) when available; whoever waited
# finds the binary built.
set -euo pipefail

[[ $# -ge 4 ]] || { echo "usage: $0 <module dir> <name> <module> <package> [extra ldflags]" >&2; exit 2; }
here="$1" name="$2" module="$3" package="$4" ldflags="${5:-}"
version="$(awk -v m="$module" '{ sub(/^require[ \t]+/, "") } $1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
[[ -n "$version" ]] || { echo "$name: cannot read the pinned version of $module from $here/go.mod" >&2; exit 1; }

dir="${SHAREDLB_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/bin}"
bin="$dir/$name-$version"
mkdir -p "$dir"
stamp="$(cat "$here/go.mod" "$here/go.sum" | cksum | awk '{ print $1 "-" $2 }')"

is_current() {
  [[ -z "${GO_BUILD_PINNED_FORCE:-}" && -x "$bin" && -f "$bin.stamp" && "$(cat "$bin.stamp")" == "$stamp" ]]
}
publish() {
  ln -sfn "$(basename "$bin")" "$dir/$name"
  echo "$dir/$name"
}
if is_current; then publish; exit 0; fi

if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.$name.lock"
  flock 9
  if is_current; then publish; exit 0; fi
fi

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "$name: no Go toolchain found (set GO=/path/to/go or put go on PATH)" >&2; exit 1
  fi
fi

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "$name: building $version with $("$GO" version)" >&2
(cd "$here" && "$GO" build -trimpath -ldflags="-s -w $ldflags" -o "$tmp/$name" "$package")
mv -f "$tmp/$name" "$bin"
printf '%s\n' "$stamp" >"$bin.stamp"
publish
