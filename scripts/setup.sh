# Sourced by .ci/run and scripts/run-local.sh: makes a fresh Debian machine with Node ready
# to build and run sharedlb. Installs only what is missing; safe to run again.
#   Node.js 24 (from the npm registry when the machine's node is older), pnpm (the version in
#   package.json), nats-server and redis-server (Debian), kube-apiserver + etcd and helm (built
#   from Go modules when Go is present), the workspace dependencies, and the build.
set -euo pipefail
SHAREDLB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHAREDLB_CACHE="${SHAREDLB_CACHE:-$HOME/.cache/sharedlb}"
mkdir -p "$SHAREDLB_CACHE"
cd "$SHAREDLB_ROOT"

say() { printf '== %s\n' "$*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 24 ]; then
  if [ ! -x "$SHAREDLB_CACHE/node24/bin/node" ]; then
    command -v npm >/dev/null || { echo "sharedlb needs Node.js (any version with npm) to bootstrap Node 24" >&2; exit 1; }
    say "installing Node.js 24 from the npm registry into $SHAREDLB_CACHE/node24"
    npm install -g node@24 --prefix "$SHAREDLB_CACHE/node24" >/dev/null
  fi
  export PATH="$SHAREDLB_CACHE/node24/bin:$PATH"
fi
say "node $(node --version)"

PNPM_VERSION=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  if [ ! -x "$SHAREDLB_CACHE/pnpm-$PNPM_VERSION/bin/pnpm" ]; then
    say "installing pnpm $PNPM_VERSION"
    npm install -g "pnpm@$PNPM_VERSION" --prefix "$SHAREDLB_CACHE/pnpm-$PNPM_VERSION" >/dev/null
  fi
  export PATH="$SHAREDLB_CACHE/pnpm-$PNPM_VERSION/bin:$PATH"
fi
say "pnpm $(pnpm --version)"

missing=()
command -v nats-server >/dev/null || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v unzip >/dev/null || missing+=(unzip)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v go >/dev/null || [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
  say "kube-apiserver and etcd (tools/envtest, cached in ${SHAREDLB_ENVTEST_DIR:-$SHAREDLB_CACHE/envtest})"
  tools/envtest/build.sh >/dev/null
  say "nats-server (tools/nats-server, pinned; cached in ${SHAREDLB_BIN_DIR:-$SHAREDLB_CACHE/bin})"
  export SHAREDLB_NATS_SERVER="$(tools/nats-server/build.sh)"
  say "envoy-validate (Envoy's validation rules for tests, tools/envoy-validate, cached in ${SHAREDLB_BIN_DIR:-$SHAREDLB_CACHE/bin})"
  tools/envoy-validate/build.sh >/dev/null
  say "helm (tools/helm, pinned; charts in deploy/helm; cached in ${SHAREDLB_BIN_DIR:-$SHAREDLB_CACHE/bin})"
  export SHAREDLB_HELM="$(tools/helm/build.sh)"
  say "Gateway API CRDs for tests (tools/gateway-api, pinned; cached in ${SHAREDLB_GATEWAY_API_DIR:-$SHAREDLB_CACHE/gateway-api})"
  tools/gateway-api/fetch.sh >/dev/null
  say "cert-manager CRDs for tests (tools/cert-manager, pinned; cached in ${SHAREDLB_CERT_MANAGER_DIR:-$SHAREDLB_CACHE/cert-manager})"
  tools/cert-manager/fetch.sh >/dev/null
else
  say "no Go toolchain: the local kube-apiserver cannot be built (tenant-side tests and the demo cluster need it)"
fi

say "pnpm install"
if [ "${CI:-}" = "true" ]; then pnpm install --frozen-lockfile; else pnpm install --prefer-offline; fi
say "build"
pnpm run build
