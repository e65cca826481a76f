#!/usr/bin/env sh
# Runbook shim: ./scripts/migrate_dhash.sh --env production [--dry-run] [...]
# Delegates to `guarded-rollout migrate` (settings from guarded-rollout.config.json).
set -eu
cd "$(dirname "$0")/.."
exec node packages/cli/bin/guarded-rollout.js migrate "$@"
