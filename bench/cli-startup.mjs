#!/usr/bin/env node
// CLI start-up (issue 15, target: `--version` and `--help` in <= 0.15 s and <= 60 MiB): hyperfine
// times the bundled CLI against `node -e 0` (the floor any Node CLI pays) and against a command
// that loads its module; /usr/bin/time -f %M gives the peak RSS of each. Needs `pnpm build` (or
// `node scripts/build.mjs packages/cli`), hyperfine (apt package `hyperfine`) and GNU time.
//   pnpm bench cli-startup [--runs N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'packages/cli/bin/guarded-rollout.js');
const runsAt = process.argv.indexOf('--runs');
const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 30;
if (!existsSync(join(root, 'packages/cli/dist/index.js'))) {
  console.error('cli-startup: build the CLI first: node scripts/build.mjs packages/cli');
  process.exit(2);
}
for (const tool of ['hyperfine', '/usr/bin/time']) {
  if (spawnSync(tool, ['--version']).error) {
    console.error(`cli-startup: ${tool} is missing (apt-get install hyperfine time)`);
    process.exit(2);
  }
}
const node = JSON.stringify(process.execPath);
const cases = [
  ['node -e 0 (reference)', `${node} -e 0`],
  ['guarded-rollout --version', `${node} ${bin} --version`],
  ['guarded-rollout --help', `${node} ${bin} --help`],
  ['guarded-rollout backup --help (loads one command)', `${node} ${bin} backup --help`],
];
const dir = mkdtempSync(join(tmpdir(), 'cli-startup-'));
const json = join(dir, 'hyperfine.json');
const hf = spawnSync(
  'hyperfine',
  [
    '--warmup',
    '3',
    '--runs',
    String(runs),
    '-N',
    '--export-json',
    json,
    ...cases.flatMap(([n, c]) => ['-n', n, c]),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
if (hf.status !== 0) process.exit(hf.status ?? 1);
const results = JSON.parse(readFileSync(json, 'utf8')).results;
rmSync(dir, { recursive: true, force: true });

/** Peak RSS in MiB (largest of 5 runs). */
function peakMiB(command) {
  let peak = 0;
  for (let i = 0; i < 5; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', `${command} >/dev/null`], {
      encoding: 'utf8',
    });
    peak = Math.max(peak, Number(r.stderr.trim().split('\n').pop()) / 1024);
  }
  return peak;
}
const reference = results[0].mean;
console.log('\n| command | mean | σ | min | × node -e 0 | peak RSS | target |');
console.log('|---|---|---|---|---|---|---|');
let ok = true;
results.forEach((r, i) => {
  const rss = peakMiB(cases[i][1]);
  const targeted = i === 1 || i === 2;
  const pass = r.mean <= 0.15 && rss <= 60;
  if (targeted && !pass) ok = false;
  console.log(
    `| ${cases[i][0]} | ${(r.mean * 1000).toFixed(0)} ms | ${(r.stddev * 1000).toFixed(0)} ms | ${(r.min * 1000).toFixed(0)} ms | ${(r.mean / reference).toFixed(2)} | ${rss.toFixed(1)} MiB | ${targeted ? (pass ? 'ok (<= 150 ms, <= 60 MiB)' : 'OVER (150 ms / 60 MiB)') : '-'} |`,
  );
});
console.log(
  ok
    ? '\n--version and --help are within target.'
    : '\n--version or --help is over target (machine busy? re-run idle).',
);
