#!/usr/bin/env bash
# Runbook shim: `scripts/rollback_dhash.sh --env production --latest --target DIR [...]` from the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node packages/cli/bin/guarded-rollout.js rollback "$@"
