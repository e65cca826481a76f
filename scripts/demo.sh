#!/usr/bin/env bash
# Quick start, command 1: set up on a fresh machine and run the local guarded-rollout demo.
# A second run starts in seconds: dependencies are installed only when the lockfile changed, and
# the demo is bundled only when its sources changed (scripts/demo.mjs). No other bundle is built.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp=node_modules/.demo-setup.sha256
want=$( (cat pnpm-lock.yaml; node --version) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "demo [1/2]: installing dependencies (pnpm install --frozen-lockfile; first run only)..."
  bash scripts/setup.sh
  echo "$want" >"$stamp"
  echo "demo [1/2]: dependencies ready ($(($(date +%s) - start)) s)"
else
  echo "demo [1/2]: dependencies up to date"
fi
echo "demo [2/2]: running the demo"
exec pnpm --silent demo "$@"
