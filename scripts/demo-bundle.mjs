// The demo's bundle, built with ncc only when one of its inputs changed: a SHA256 over the paths
// and contents of every source it is made from (examples/dhash-service/src, packages/*/src) and
// the lockfile, kept beside the bundle. Content, not mtimes: a fresh checkout or `git switch`
// touches every mtime without changing anything.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export function inputsHash(root) {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name === 'node_modules' || e.name === '__tests__' || e.name === 'dist') continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.(ts|mjs|js|json|hbs)$/.test(e.name))
        hash.update(`${relative(root, path)}\0`).update(readFileSync(path));
    }
  };
  walk(join(root, 'examples/dhash-service/src'));
  for (const pkg of readdirSync(join(root, 'packages')).sort())
    if (existsSync(join(root, 'packages', pkg, 'src'))) walk(join(root, 'packages', pkg, 'src'));
  if (existsSync(join(root, 'pnpm-lock.yaml'))) hash.update(readFileSync(join(root, 'pnpm-lock.yaml')));
  return hash.digest('hex');
}

/** ncc, as the demo has always been bundled. */
function nccBuild(root, outDir) {
  const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
  const entry = join(root, 'examples/dhash-service/src/demo/run-demo.ts');
  // cwd = the example's folder: ncc's asset relocator turns `resolve(dir, 'notifications.jsonl')`
  // (packages/notify's fallback file) into a bundled asset when such files exist below its cwd —
  // and earlier demo runs leave them in demo-output/.
  const build = spawnSync(process.execPath, [ncc, 'build', entry, '-o', outDir, '--target', 'es2022', '-q'], {
    cwd: join(root, 'examples/dhash-service'),
    stdio: 'inherit',
  });
  return build.status === 0;
}

/** Returns the bundle's path, building it first when missing or when an input changed. */
export function ensureDemoBundle({ root, outDir, build = nccBuild, log = console.log, now = Date.now }) {
  const bundle = join(outDir, 'index.js');
  const stamp = join(outDir, 'inputs.sha256');
  const started = now();
  const want = inputsHash(root);
  const have = existsSync(bundle) && existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (want === have) {
    log('demo: sources unchanged since the last bundle; no rebuild');
    return bundle;
  }
  log(
    `demo: bundling the demo with ncc (${have ? 'its sources changed' : 'first run'}; about a minute, once)...`,
  );
  if (!build(root, outDir)) {
    log('demo: bundling failed (see above)');
    process.exit(1);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(stamp, `${want}\n`);
  log(`demo: bundled in ${((now() - started) / 1000).toFixed(1)} s`);
  return bundle;
}
