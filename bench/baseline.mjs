#!/usr/bin/env node
// Runs bench/baseline.ts: bundles it with ncc (it imports the TypeScript packages), then runs it.
//   pnpm bench baseline [--healthy 2000] [--windows 200] [--rps 5] [--seed 1]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.tmp/bench-baseline');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
const build = spawnSync(
  process.execPath,
  [ncc, 'build', join(root, 'bench/baseline.ts'), '-o', out, '--target', 'es2022', '-q'],
  { cwd: root, stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, [join(out, 'index.js'), root, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
