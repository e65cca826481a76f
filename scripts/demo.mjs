#!/usr/bin/env node
// The local demo, the README's main command: a complete guarded rollout of the sample DHash
// service on this machine (see examples/dhash-service/src/demo/run-demo.ts). Bundles the demo
// once with ncc (it runs the same TypeScript packages the actions use), then runs it.
//   pnpm demo [--scenario failing-extractions|slow-hashing|dying-health|growing-queue|healthy] [--out DIR] [--time-scale N]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'examples/dhash-service/src/demo/run-demo.ts');
const outDir = join(root, '.tmp/demo-bundle');
const bundle = join(outDir, 'index.js');

/** Newest modification time under the sources the bundle is made from. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, name.name);
      if (name.isDirectory()) walk(path);
      else if (name.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of [
    'examples/dhash-service/src',
    'packages/monitor/src',
    'packages/gates/src',
    'packages/config/src',
  ])
    walk(join(root, dir));
  return newest;
}

if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestSource()) {
  console.log('demo: bundling the demo (first run only)...');
  const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
  // cwd = the example's folder: ncc's asset relocator turns `resolve(dir, 'notifications.jsonl')`
  // (packages/notify's fallback file) into a bundled asset when such files exist below its cwd —
  // and earlier demo runs leave them in demo-output/.
  const build = spawnSync(process.execPath, [ncc, 'build', entry, '-o', outDir, '--target', 'es2022', '-q'], {
    cwd: join(root, 'examples/dhash-service'),
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const child = spawn(process.execPath, [bundle, '--repo', root, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
