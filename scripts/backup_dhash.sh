#!/usr/bin/env bash
# Runbook shim: `scripts/backup_dhash.sh --env production [--path P]... [--dry-run]` from the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node packages/cli/bin/guarded-rollout.js backup "$@"
