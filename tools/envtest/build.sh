#!/usr/bin/env bash
# Builds the upstream kube-apiserver and etcd from Go modules into a cache dir
# outside the repository and prints that directory on stdout (the only line
# written to stdout; progress goes to stderr).
#
#   tools/envtest/build.sh            # build if missing, print the directory
#   SHAREDLB_ENVTEST_DIR=/x build.sh  # use /x/<k8s-version>/ as the cache
#   SHAREDLB_ENVTEST_FORCE=1 build.sh # rebuild even if the binaries exist
#
# Idempotent: when both binaries exist and were built from the current
# go.mod/go.sum (recorded in a stamp file) nothing is built. Concurrent runs
# are serialised with flock(1) when available; binaries are renamed into place
# atomically, so a reader never sees a half-written file.
#
# The versions are pinned in go.mod (kube-apiserver, k8s.io/kubernetes plus its
# staging modules, see kubernetes/kubernetes#79384) and etcd/go.mod (etcd).
# Never `go install k8s.io/kubernetes/...`: the replace directives are needed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Read the pinned versions straight from the committed go.mod files.
# Matches both `require m v` and a `m v` line inside a require block.
pinned() { awk -v m="$1" '{ sub(/^require[ \t]+/, "") } $1 == m && $2 ~ /^v/ { print $2; exit }' "$2"; }
k8s_version="$(pinned k8s.io/kubernetes "$here/go.mod")"
etcd_version="$(pinned go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "envtest: cannot read pinned versions from $here/go.mod or $here/etcd/go.mod" >&2
  exit 1
fi

root="${SHAREDLB_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/envtest}"
dir="$root/$k8s_version"
mkdir -p "$dir"

# The stamp changes whenever a pinned input changes. (Editing this script does
# not invalidate the cache; use SHAREDLB_ENVTEST_FORCE=1 after changing flags.)
stamp="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/main.go" | cksum | awk '{ print $1 "-" $2 }')"
stamp="kubernetes=$k8s_version etcd=$etcd_version inputs=$stamp"

is_current() {
  [[ -z "${SHAREDLB_ENVTEST_FORCE:-}" ]] &&
    [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" && -f "$dir/.stamp" ]] &&
    [[ "$(cat "$dir/.stamp")" == "$stamp" ]]
}

if is_current; then
  echo "$dir"
  exit 0
fi

if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    echo "envtest: another build holds $dir/.lock, waiting" >&2
    flock 9
  fi
  # Someone else may have finished the build while we waited.
  if is_current; then
    echo "$dir"
    exit 0
  fi
fi

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then
    GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    echo "envtest: no Go toolchain found (set GO=/path/to/go or put go on PATH)" >&2
    exit 1
  fi
fi
echo "envtest: using $("$GO" version)" >&2

# Reproducible, self-contained builds that ignore any go.work or GOFLAGS of the
# surrounding environment. go.sum is committed, so -mod=readonly suffices.
export GOWORK=off
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
build_date="$(date -u +'%Y-%m-%dT%H:%M:%SZ')"
version_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  version_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
echo "envtest: building kube-apiserver $k8s_version into $dir (this takes several minutes on a cold cache)" >&2
(cd "$here" && "$GO" build -trimpath -ldflags="-s -w$version_ldflags" \
  -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
echo "envtest: building etcd $etcd_version" >&2
(cd "$here/etcd" && "$GO" build -trimpath -ldflags="-s -w" -o "$tmp/etcd" .)

mv -f "$tmp/kube-apiserver" "$dir/kube-apiserver"
mv -f "$tmp/etcd" "$dir/etcd"
printf '%s\n' "$stamp" >"$tmp/.stamp"
mv -f "$tmp/.stamp" "$dir/.stamp"
echo "envtest: built in $((SECONDS - start))s" >&2

echo "$dir"
