#!/usr/bin/env bash
# Re-pins the envtest binaries.
#
#   tools/envtest/bump.sh v1.36.3            # kube-apiserver only
#   tools/envtest/bump.sh v1.36.3 v3.6.16    # and etcd
#
# Regenerates go.mod from the chosen k8s.io/kubernetes release: every staging
# module of its replace block (./staging/src/k8s.io/...) is replaced by the
# published k8s.io/<name> v0.Y.Z (kubernetes/kubernetes#79384), then go mod
# tidy updates go.sum. Run build.sh afterwards and commit go.mod/go.sum.
# Check which etcd the release expects in its build/dependencies.yaml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s="${1:?usage: bump.sh <k8s version, e.g. v1.36.3> [<etcd version, e.g. v3.6.16>]}"
etcd="${2:-}"
if [[ ! "$k8s" =~ ^v1\.[0-9]+\.[0-9]+$ ]]; then
  echo "bump: expected a stable release like v1.36.3, got $k8s" >&2
  exit 1
fi
staging="v0.${k8s#v1.}"

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOWORK=off
unset GOFLAGS

src="$(cd / && "$GO" mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$src" || ! -f "$src/go.mod" ]]; then
  echo "bump: cannot download k8s.io/kubernetes@$k8s" >&2
  exit 1
fi

modules="$(sed -n '/^replace (/,/^)/p' "$src/go.mod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }')"
if [[ -z "$modules" ]]; then
  echo "bump: no staging replace block found in $src/go.mod" >&2
  exit 1
fi

{
  echo '// Builds the upstream kube-apiserver from the published k8s.io/kubernetes module.'
  echo '// The staging modules are pinned to their published v0.Y.Z counterparts (see'
  echo '// kubernetes/kubernetes#79384). Regenerate with tools/envtest/bump.sh.'
  echo 'module sharedlb/tools/envtest'
  echo
  echo "$(grep -m1 '^go ' "$src/go.mod")"
  echo
  echo 'tool k8s.io/kubernetes/cmd/kube-apiserver'
  echo
  echo "require k8s.io/kubernetes $k8s"
  echo
  echo 'replace ('
  for m in $modules; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  echo ')'
} >"$here/go.mod"
rm -f "$here/go.sum"
(cd "$here" && "$GO" mod tidy)

if [[ -n "$etcd" ]]; then
  (cd "$here/etcd" && "$GO" get "go.etcd.io/etcd/server/v3@$etcd" && "$GO" mod tidy)
fi

echo "bump: pinned k8s.io/kubernetes $k8s (staging $staging)${etcd:+, etcd $etcd}; now run tools/envtest/build.sh" >&2
