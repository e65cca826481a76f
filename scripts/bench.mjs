#!/usr/bin/env node
// `pnpm bench [name...]`: runs the benchmarks in bench/ (each compares against a reference tool in
// the same run and prints ratios and peak memory). Without names it lists them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benches = readdirSync(`${root}/bench`)
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.replace(/\.mjs$/, ''));
const [...names] = process.argv.slice(2);
if (names.length === 0) {
  console.log(
    `benchmarks (run \`pnpm build\` first): ${benches.join(', ')}\nusage: pnpm bench <name> [args]`,
  );
  process.exit(0);
}
const [name, ...args] = names;
if (!benches.includes(name)) {
  console.error(`unknown benchmark "${name}"; known: ${benches.join(', ')}`);
  process.exit(2);
}
const run = spawnSync(process.execPath, [`bench/${name}.mjs`, ...args], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
