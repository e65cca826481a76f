#!/usr/bin/env node
// Runs bench/monitor.ts: bundles it with ncc (it imports the TypeScript packages), then runs it
// with --expose-gc so heap figures are measured after collection.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.tmp/bench-monitor');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
const build = spawnSync(
  process.execPath,
  [ncc, 'build', join(root, 'bench/monitor.ts'), '-o', out, '--target', 'es2022', '-q'],
  { cwd: root, stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, ['--expose-gc', join(out, 'index.js'), root], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
