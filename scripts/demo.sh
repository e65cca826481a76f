#!/usr/bin/env bash
# Quick start, command 1: set up on a fresh machine, build, and run the local guarded-rollout demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm build >/dev/null
exec pnpm --silent demo "$@"
