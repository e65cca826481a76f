#!/usr/bin/env node
// Runbook shim: node scripts/validate_logging.js --env production [--file F]
// Delegates to `guarded-rollout validate-logging`; writes test_logging.log.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../packages/cli/bin/guarded-rollout.js', import.meta.url));
const run = spawnSync(process.execPath, [cli, 'validate-logging', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
