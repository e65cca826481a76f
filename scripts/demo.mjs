#!/usr/bin/env node
// The local demo, the README's main command: a complete guarded rollout of the sample DHash
// service on this machine (see examples/dhash-service/src/demo/run-demo.ts). Bundles the demo
// with ncc (it runs the same TypeScript packages the actions use) only when a source changed
// (a hash of the inputs, kept beside the bundle), then runs it.
//   pnpm demo [--scenario failing-extractions|slow-hashing|dying-health|growing-queue|healthy] [--out DIR] [--time-scale N]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDemoBundle } from './demo-bundle.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = ensureDemoBundle({ root, outDir: join(root, '.tmp/demo-bundle') });
const child = spawn(process.execPath, [bundle, '--repo', root, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
