#!/usr/bin/env bash
# Fetches files (YAML) of a pinned Go module through the Go module proxy into a cache dir
# outside the repository, and prints that directory on stdout (the only line written to
# stdout; progress goes to stderr). Used by tools/gateway-api/fetch.sh and
# tools/cert-manager/fetch.sh.
#
#   go-module-files.sh <label> <module> <version> <h1> <dir in module> <cache root>
#
#   <h1>          the module's go.sum hash (also served by the checksum database); checked
#                 here too, so a cache or a proxy can never hand out other files
#   <dir in module>  the directory whose *.yaml are kept, e.g. config/crd/standard
#   <cache root>  files land in <cache root>/<version>/
#
# Nothing is built: `go mod download` fetching the zip is enough, even when the module's
# go.mod asks for a newer Go than this toolchain (its path is taken from the JSON it prints).
set -euo pipefail

[[ $# -eq 6 ]] || { echo "usage: $0 <label> <module> <version> <h1> <dir in module> <cache root>" >&2; exit 2; }
label="$1" module="$2" version="$3" module_h1="$4" subdir="$5" root="$6"
dir="$root/$version"
mkdir -p "$root"

is_current() { [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$module_h1" ]]; }
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
  command -v "$tool" >/dev/null || { echo "$label: $tool is needed (scripts/setup.sh installs unzip)" >&2; exit 1; }
done
tmp="$(mktemp -d "$root/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "$label: downloading $module@$version" >&2
json="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module@$version" 2>/dev/null || true)"
zip="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
if [[ -z "$zip" || ! -f "$zip" ]]; then
  echo "$label: go mod download gave no zip for $module@$version:" >&2
  printf '%s\n' "$json" >&2
  exit 1
fi

# The Go module hash (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 over the sorted
# "<sha256>  <path>" lines of every file in the zip.
h1="h1:$(unzip -Z1 "$zip" | grep -v '/$' | LC_ALL=C sort | while IFS= read -r f; do
  printf '%s  %s\n' "$(unzip -p "$zip" "$f" | sha256sum | cut -d' ' -f1)" "$f"
done | sha256sum | cut -d' ' -f1 | node -e 'process.stdout.write(Buffer.from(require("node:fs").readFileSync(0, "utf8").trim(), "hex").toString("base64"))')"
if [[ "$h1" != "$module_h1" ]]; then
  echo "$label: $zip has hash $h1, expected $module_h1; refusing it" >&2
  exit 1
fi

unzip -q -j "$zip" "$module@$version/$subdir/*.yaml" -d "$tmp/files"
count="$(find "$tmp/files" -name '*.yaml' | wc -l)"
[[ "$count" -gt 0 ]] || { echo "$label: no YAML under $subdir in $zip" >&2; exit 1; }
printf '%s\n' "$module_h1" >"$tmp/files/.stamp"
rm -rf "$dir"
mv "$tmp/files" "$dir"
echo "$label: $count files of $module $version ($subdir) in $dir" >&2
echo "$dir"
