#!/usr/bin/env node
// Runs bench/monitor-faults.ts: bundles it with ncc (it imports the TypeScript packages) and runs it.
// The fault target (bench/support/fault-target.mjs) is a separate process it starts itself.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.tmp/bench-monitor-faults');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
const build = spawnSync(
  process.execPath,
  [ncc, 'build', join(root, 'bench/monitor-faults.ts'), '-o', out, '--target', 'es2022', '-q'],
  { cwd: root, stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, [join(out, 'index.js')], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
