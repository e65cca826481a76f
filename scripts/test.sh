#!/usr/bin/env bash
# Quick start, command 2: set up on a fresh machine and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Tests that run the CLI the way operators do need its bundle (gitignored): build it first (~10 s).
node scripts/build.mjs packages/cli >/dev/null
exec pnpm test "$@"
