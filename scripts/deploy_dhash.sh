#!/usr/bin/env sh
# Runbook shim: ./scripts/deploy_dhash.sh --env production [--backup-first] [--dry-run] [...]
# Delegates to `guarded-rollout deploy` (settings from guarded-rollout.config.json).
set -eu
cd "$(dirname "$0")/.."
exec node packages/cli/bin/guarded-rollout.js deploy "$@"
