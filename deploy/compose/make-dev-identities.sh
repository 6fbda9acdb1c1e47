#!/usr/bin/env bash
# Makes docker compose's NATS identities with `sharedlb tenant`, the way an operator makes
# them for Kubernetes (docs/security.md): one nkey for the allocator, the xds-gateway and the
# CLI, one for the tenant cluster (default "demo"), and the permission entries
# `sharedlb tenant add` renders, into nats-auth.conf (what compose's NATS includes).
# The seeds land in dev-identities/. The committed ones are THROWAWAY and PUBLIC: anyone
# with this repository has them. Run this (then `docker compose up`) before NATS is reachable
# from anywhere but this machine, and keep the new seeds out of git.
#   pnpm build && deploy/compose/make-dev-identities.sh [tenant-cluster-id]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tenant="${1:-demo}"
cli=(node "$here/../../cli/dist/main.js" tenant --lb-dir "$here" --auth-only --auth-conf "$here/nats-auth.conf")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

printf '{ "lb": null, "tenants": {} }\n' >"$here/nats-identities.json"
"${cli[@]}" init --out "$tmp/lb" >/dev/null
# `tenant add` puts the CA into the tenant's overlay; compose makes its CA at `up`, and only
# the seed is kept from that overlay, so any certificate does here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
  -days 1 -subj "/CN=unused" 2>/dev/null
"${cli[@]}" add "$tenant" --ca "$tmp/ca.crt" --server tls://localhost:4222 --out "$tmp/tenant" >/dev/null

seed() { sed -n "s/^  $1: \"\(S[A-Z2-7]*\)\"$/\1/p" "$2"; }
rm -rf "$here/dev-identities"
mkdir -p "$here/dev-identities"
for who in allocator gateway cli; do seed "$who.nk" "$tmp/lb/nats-identities-secret.yaml" >"$here/dev-identities/$who.nk"; done
seed nkey "$tmp/tenant/nats-credentials.yaml" >"$here/dev-identities/$tenant.nk"
for f in "$here"/dev-identities/*.nk; do [[ -s "$f" ]] || { echo "no seed in $f" >&2; exit 1; }; done
# Compose mounts these into containers running as other users.
chmod 0644 "$here"/dev-identities/*.nk
echo "compose NATS identities: $here/nats-identities.json, $here/nats-auth.conf, $here/dev-identities/ (tenant $tenant)"
