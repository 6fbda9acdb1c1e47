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

root="${SHAREDLB_GATEWAY_API_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sharedlb/gateway-api}"
dir="$root/$VERSION"
mkdir -p "$root"

is_current() { [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$MODULE_H1" ]]; }
if is_current; then
  echo "$dir"
  exit 0
fi

if command -v flock >/dev/null 2>&1; then
  exec 9>"$root/.lock"
  flock 9
  if is_current; then
    echo "$dir"
    exit 0
  fi
fi

command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
for tool in go unzip node sha256sum; do
  command -v "$tool" >/dev/null || { echo "gateway-api: $tool is needed (scripts/setup.sh installs unzip)" >&2; exit 1; }
done
tmp="$(mktemp -d "$root/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# v1.7.0's go.mod asks for Go >= 1.27, so `go mod download` reports an error after it has
# downloaded (and checked against the checksum database) the zip: its files are all we
# need, so the zip's path is taken from the JSON it prints either way.
echo "gateway-api: downloading sigs.k8s.io/gateway-api@$VERSION" >&2
json="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$VERSION" 2>/dev/null || true)"
zip="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
if [[ -z "$zip" || ! -f "$zip" ]]; then
  echo "gateway-api: go mod download gave no zip for sigs.k8s.io/gateway-api@$VERSION:" >&2
  printf '%s\n' "$json" >&2
  exit 1
fi

# The Go module hash (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 over the sorted
# "<sha256>  <path>" lines of every file in the zip.
h1="h1:$(unzip -Z1 "$zip" | grep -v '/$' | LC_ALL=C sort | while IFS= read -r f; do
  printf '%s  %s\n' "$(unzip -p "$zip" "$f" | sha256sum | cut -d' ' -f1)" "$f"
done | sha256sum | cut -d' ' -f1 | node -e 'process.stdout.write(Buffer.from(require("node:fs").readFileSync(0, "utf8").trim(), "hex").toString("base64"))')"
if [[ "$h1" != "$MODULE_H1" ]]; then
  echo "gateway-api: $zip has hash $h1, expected $MODULE_H1; refusing it" >&2
  exit 1
fi

unzip -q -j "$zip" "sigs.k8s.io/gateway-api@$VERSION/config/crd/standard/*.yaml" -d "$tmp/crds"
count="$(find "$tmp/crds" -name '*.yaml' | wc -l)"
[[ "$count" -gt 0 ]] || { echo "gateway-api: no CRDs under config/crd/standard in $zip" >&2; exit 1; }
printf '%s\n' "$MODULE_H1" >"$tmp/crds/.stamp"
rm -rf "$dir"
mv "$tmp/crds" "$dir"
echo "gateway-api: $count standard-channel files of $VERSION in $dir" >&2
echo "$dir"
