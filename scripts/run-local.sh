#!/usr/bin/env bash
# Sets up and runs the whole of sharedlb on this machine: private NATS (TLS, an nkey identity
# per service and per tenant, made with `sharedlb tenant`) and Redis (AUTH over TLS), or yours
# with NATS_URL / REDIS_URL; the four services as separate processes, the xds-gateway serving
# ADS over mutual TLS; and — unless KUBECONFIG names a tenant cluster — a local kube-apiserver
# with sample Services. Certificates, seeds and passwords are throwaway (a temporary directory).
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec node scripts/run-local.mjs "$@"
