#!/usr/bin/env sh
# Runbook shim: ./scripts/smoke_tests.sh --env production --tier critical|all
# Delegates to `guarded-rollout smoke`; writes postdeploy-smoketests.log, exit 1 on a failed check.
set -eu
cd "$(dirname "$0")/.."
exec node packages/cli/bin/guarded-rollout.js smoke "$@"
