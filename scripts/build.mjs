#!/usr/bin/env node
// The one build: every JavaScript action under actions/ and the CLI, bundled by ncc the same way
// (same flags, licenses file, clean output dir), two at a time on this 2-core budget.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');

export function bundleTargets() {
  const targets = [];
  for (const name of readdirSync(join(root, 'actions')).sort()) {
    const meta = join(root, 'actions', name, 'action.yml');
    if (!existsSync(meta)) continue;
    const action = parse(readFileSync(meta, 'utf8'));
    if (!String(action?.runs?.using ?? '').startsWith('node')) continue; // composite actions have no bundle
    targets.push({
      name: `actions/${name}`,
      entry: join(root, 'actions', name, 'src/index.ts'),
      out: join(root, 'actions', name, 'dist'),
    });
  }
  targets.push({
    name: 'packages/cli',
    entry: join(root, 'packages/cli/src/index.ts'),
    out: join(root, 'packages/cli/dist'),
  });
  return targets;
}

function bundle(target) {
  rmSync(target.out, { recursive: true, force: true });
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [ncc, 'build', target.entry, '-o', target.out, '--license', 'licenses.txt', '--target', 'es2022', '-q'],
      {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    child.on('close', (code) => resolve({ ...target, code }));
  });
}

async function main() {
  const only = process.argv.slice(2);
  const targets = bundleTargets().filter((t) => only.length === 0 || only.some((o) => t.name.endsWith(o)));
  const queue = [...targets];
  const failures = [];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const started = Date.now();
      const result = await bundle(t);
      console.log(
        `${result.code === 0 ? 'built ' : 'FAILED'} ${t.name} (${((Date.now() - started) / 1000).toFixed(1)}s)`,
      );
      if (result.code !== 0) failures.push(t.name);
    }
  };
  await Promise.all([worker(), worker()]);
  if (failures.length) {
    console.error(`build failed: ${failures.join(', ')}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
