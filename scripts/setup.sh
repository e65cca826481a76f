#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: pnpm 10 (via npm when missing) and the
# workspace's dependencies from the committed lockfile. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm 10 with npm"
  npm install -g pnpm@10 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
