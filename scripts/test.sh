#!/usr/bin/env bash
# Quick start, command 2: set up on a fresh machine and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm test "$@"
