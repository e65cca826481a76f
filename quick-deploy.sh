#!/usr/bin/env sh
# Runbook shim: ./quick-deploy.sh production [--skip-backup [--force]] [--dry-run]
# Delegates to `guarded-rollout quick-deploy`: backup-first deploy, then critical smoke tests.
set -eu
cd "$(dirname "$0")"
exec node packages/cli/bin/guarded-rollout.js quick-deploy "$@"
