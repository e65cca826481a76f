#!/usr/bin/env bash
# Collects the pre-merge evidence bundle (PRODUCT.md step 1) into one directory: a verified backup
# and dry-runs of backup, migrate, deploy and rollback against a scratch instance of the sample
# DHash service (examples/dhash-service), smoke tests of the running service and validation of its
# logs. Every step runs even when an earlier one fails, so the bundle shows everything that went
# wrong; verify-artifacts judges the result. Used by .github/workflows/premerge.yml; runs locally.
#   usage: bash scripts/premerge-evidence.sh [OUT_DIR]   (default premerge_artifacts; needs `pnpm build`)
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
out=${1:-premerge_artifacts}
mkdir -p "$out"
out=$(cd "$out" && pwd)
env_name=${PREMERGE_ENV:-staging}
config="$root/guarded-rollout.config.json"
sample="$root/examples/dhash-service/src"
cli() { node "$root/packages/cli/bin/guarded-rollout.js" "$@"; }

# A scratch deployment of the sample service, stopped and removed on exit.
scratch=$(mktemp -d)
service="$scratch/dhash"
supervisor_pid=
cleanup() {
  if [ -n "$supervisor_pid" ]; then
    kill "$supervisor_pid" 2>/dev/null
    wait "$supervisor_pid" 2>/dev/null
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

failed=()
step() {
  local name=$1
  shift
  echo "::group::$name"
  if "$@"; then echo "premerge: $name ok"; else
    echo "premerge: $name FAILED"
    failed+=("$name")
  fi
  echo "::endgroup::"
}

start_service() {
  node "$sample/ctl.mjs" init --root "$service" --fault none >/dev/null || return 1
  node "$sample/supervisor.mjs" --root "$service" --log "$scratch/service.log" >"$scratch/supervisor.out" 2>&1 &
  supervisor_pid=$!
  # Bounded wait for the supervisor to publish its port, then for the first healthy answer.
  for _ in $(seq 1 100); do
    [ -s "$service/supervisor.json" ] && break
    sleep 0.1
  done
  port=$(node -p "require('$service/supervisor.json').port" 2>/dev/null) || return 1
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    node -e "fetch('$url/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
    sleep 0.1
  done
  # A few seconds of real traffic, so there are request logs to validate.
  node "$sample/traffic.mjs" --url "$url" --seconds 3 --workers 2 >/dev/null
}

# Inside the bundle directory: commands without a --log-dir write their evidence log there.
cd "$out" || exit 2
url=
step "start the sample service" start_service
step "backup (dry-run)" cli backup --env "$env_name" --base-dir "$service" --path data --out "$out/backups" --dry-run
step "backup (verified, of the scratch service)" cli backup --env "$env_name" --base-dir "$service" --path data --out "$out/backups"
step "migrate (dry-run)" cli migrate --env "$env_name" --config "$config" --log-dir "$out" --dry-run
step "deploy (dry-run)" cli deploy --env "$env_name" --config "$config" --log-dir "$out" --no-github --dry-run
step "rollback (dry-run)" cli rollback --env "$env_name" --latest --out "$out/backups" --target "$service" --log-dir "$out" --dry-run
step "smoke tests (all tiers)" cli smoke --env "$env_name" --tier all --config "$config" --base-url "$url" --log-dir "$out"
# A staging rehearsal of the monitor: a 5-minute window compressed 60x, under live traffic.
monitor_rehearsal() {
  node "$sample/traffic.mjs" --url "$url" --seconds 15 --workers 2 >/dev/null &
  local traffic=$!
  cli monitor --env "$env_name" --config "$root/quality-gates-config.json" --health-url "$url/health" --metrics-url "$url/metrics" --duration 5m --time-scale 60 --out "$out/monitor_logs" --fallback-dir "$out/notify-fallback"
  local code=$?
  kill "$traffic" 2>/dev/null
  wait "$traffic" 2>/dev/null
  return $code
}
step "monitor rehearsal (5m at 60x)" monitor_rehearsal
step "logging validation" cli validate-logging --env "$env_name" --config "$config" --file "$scratch/service.log" --log-dir "$out"

if [ ${#failed[@]} -gt 0 ]; then
  echo "premerge: ${#failed[@]} step(s) failed: ${failed[*]}"
  exit 1
fi
echo "premerge: evidence in $out"
