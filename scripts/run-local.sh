#!/usr/bin/env bash
# Sets up and runs the whole of sharedlb on this machine: NATS and Redis (the running ones on
# 4222/6379, or private ones), the four services as separate processes, and — unless
# KUBECONFIG names a tenant cluster — a local kube-apiserver with sample Services.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec node scripts/run-local.mjs "$@"
