#!/usr/bin/env node
// Builds bench/pr-check.ts with ncc (the project's bundler; packages are TypeScript sources) into
// .tmp/bench-pr-check/ and runs it. Prints the request/time table; exit 1 if the budget is missed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.tmp/bench-pr-check');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
const build = spawnSync(
  process.execPath,
  [ncc, 'build', join(root, 'bench/pr-check.ts'), '-o', out, '--target', 'es2022', '-q'],
  { cwd: root, stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, [join(out, 'index.js')], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
