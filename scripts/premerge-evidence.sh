#!/usr/bin/env bash
# Collects the pre-merge evidence bundle (PRODUCT.md step 1) into one directory: dry-runs of backup,
# migrate, deploy and rollback against the sample DHash service, smoke tests and logging validation.
# Every step runs even when an earlier one fails, so the bundle shows everything that went wrong;
# verify-artifacts judges the result. Used by .github/workflows/premerge.yml; runs locally too.
#   usage: bash scripts/premerge-evidence.sh [OUT_DIR]   (default premerge_artifacts; needs `pnpm build`)
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
out=${1:-premerge_artifacts}
mkdir -p "$out"
out=$(cd "$out" && pwd)
env_name=${PREMERGE_ENV:-staging}
service="$root/examples/dhash-service"
cli() { node "$root/packages/cli/bin/guarded-rollout.js" "$@"; }

failed=()
step() {
  local name=$1
  shift
  echo "::group::$name"
  # Each command runs inside the bundle directory, where it writes its evidence log.
  if (cd "$out" && "$@"); then echo "premerge: $name ok"; else
    echo "premerge: $name FAILED"
    failed+=("$name")
  fi
  echo "::endgroup::"
}

step "backup (dry-run)" cli backup --env "$env_name" --base-dir "$service" --out "$out/backups" --dry-run
step "migrate (dry-run)" cli migrate --env "$env_name" --dry-run
step "deploy (dry-run)" cli deploy --env "$env_name" --dry-run
step "rollback (dry-run)" cli rollback --env "$env_name" --latest --target "$service" --dry-run
step "smoke tests (all tiers)" cli smoke --env "$env_name" --tier all
step "logging validation" cli validate-logging --env "$env_name"

if [ ${#failed[@]} -gt 0 ]; then
  echo "premerge: ${#failed[@]} step(s) failed: ${failed[*]}"
  exit 1
fi
echo "premerge: evidence in $out"
