#!/usr/bin/env node
// Backup/verify/restore benchmark: our bundled CLI against the classic tools on the same data in
// the same run — `zip -r -q` + `sha256sum` (backup), `sha256sum -c` (verify), `unzip -q` (restore).
// Wall time and peak RSS of each child come from /usr/bin/time. Usage:
//   pnpm build && node bench/backup.mjs [--size 1G] [--ours-only] [--keep]
// The tree is half random bytes (incompressible) and half generated log-like text.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/cli/bin/guarded-rollout.js');
const args = process.argv.slice(2);
const sizeArg =
  args[args.indexOf('--size') + 1] && args.includes('--size') ? args[args.indexOf('--size') + 1] : '1G';
const oursOnly = args.includes('--ours-only');
const keep = args.includes('--keep');
const UNITS = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const total = Math.round(parseFloat(sizeArg) * (UNITS[sizeArg.slice(-1).toUpperCase()] ?? 1));

const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'gr-bench-'));
const tree = join(work, 'tree');

function makeTree() {
  const fileSize = 8 * 1024 * 1024;
  const half = Math.floor(total / 2);
  mkdirSync(join(tree, 'random'), { recursive: true });
  for (let i = 0, left = half; left > 0; i++, left -= fileSize) {
    writeFileSync(join(tree, 'random', `blob-${i}.bin`), randomBytes(Math.min(fileSize, left)));
  }
  const words =
    'hash image dhash extract latency queue review confidence request ok error timeout retry worker 200 404 500 GET POST ms bytes'.split(
      ' ',
    );
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0, left = total - half; left > 0; i++) {
    const dir = join(tree, 'text', `d${i % 16}`);
    mkdirSync(dir, { recursive: true });
    const size = Math.min(left, 1024 * 1024 + Math.floor(rnd() * 3 * 1024 * 1024));
    const lines = [];
    let n = 0;
    while (n < size) {
      const line = `${new Date(1_700_000_000_000 + Math.floor(rnd() * 1e9)).toISOString()} level=${rnd() < 0.9 ? 'info' : 'warn'} id=${Math.floor(rnd() * 1e9).toString(16)} ${Array.from({ length: 8 }, () => words[Math.floor(rnd() * words.length)]).join(' ')} value=${(rnd() * 1000).toFixed(3)}\n`;
      lines.push(line);
      n += line.length;
    }
    writeFileSync(join(dir, `log-${i}.txt`), lines.join('').slice(0, size));
    left -= size;
  }
}

function timed(label, command, cwd = work) {
  const stats = join(work, 'time.txt');
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', stats, 'bash', '-c', command], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (run.status !== 0) throw new Error(`${label} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  const [wall, rssKb] = readFileSync(stats, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
  return { label, wall, rssMiB: rssKb / 1024 };
}

const fmt = (n, d = 2) => n.toFixed(d);
console.log(`generating ${fmt(total / 1024 ** 3)} GiB tree in ${tree} ...`);
makeTree();
spawnSync('sync');
const results = [];
const row = (task, ours, ref, target) => results.push({ task, ours, ref, target });

const ours = timed('ours backup', `node ${cli} backup --env bench --path tree --out out-ours`);
const zipPath = join(
  work,
  'out-ours',
  readdirSync(join(work, 'out-ours')).find((f) => f.endsWith('.zip')),
);
const ref = oursOnly
  ? undefined
  : timed('zip -r -q + sha256sum', 'zip -r -q ref.zip tree && sha256sum ref.zip > ref.zip.sha256');
row('backup', ours, ref, 1.25);
const verifyOurs = timed('ours verify --quick', `node ${cli} verify-backup --quick ${zipPath}`);
const verifyRef = oursOnly
  ? undefined
  : timed('sha256sum -c', `sha256sum -c --quiet ${zipPath}.sha256`, root === '' ? work : work);
row('verify (checksum+manifest+entry safety)', verifyOurs, verifyRef, 1.1);
const deep = timed('ours verify (deep)', `node ${cli} verify-backup ${zipPath}`);
row('verify deep (+ every CRC and SHA256)', deep, verifyRef, undefined);
const restoreOurs = timed(
  'ours restore',
  `node ${cli} rollback --env bench --backup ${zipPath} --target restored-ours --log-dir .`,
);
const restoreRef = oursOnly ? undefined : timed('unzip -q', `unzip -q ${zipPath} -d restored-ref`);
row('restore (verify + extract + swap)', restoreOurs, restoreRef, 1.25);
const zipSize = (p) => Number(spawnSync('stat', ['-c', '%s', p], { encoding: 'utf8' }).stdout);

console.log(
  `\nData: ${fmt(total / 1024 ** 3)} GiB (half random, half text); our zip ${fmt(zipSize(zipPath) / 1024 ** 2, 0)} MiB${oursOnly ? '' : `, zip -r (level 6) ${fmt(zipSize(join(work, 'ref.zip')) / 1024 ** 2, 0)} MiB`}. Node ${process.version}.\n`,
);
const header = [
  'task',
  'ours s',
  'ref s',
  'ratio',
  'target',
  'ours peak RSS MiB',
  'ref peak RSS MiB',
  'reference',
];
const lines = results.map(({ task, ours: o, ref: r, target }) => [
  task,
  fmt(o.wall),
  r ? fmt(r.wall) : '-',
  r ? fmt(o.wall / Math.max(r.wall, 0.01)) + 'x' : '-',
  target ? `<= ${target}x` : '-',
  fmt(o.rssMiB, 0),
  r ? fmt(r.rssMiB, 0) : '-',
  r ? r.label : '-',
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
for (const l of [header, widths.map((w) => '-'.repeat(w)), ...lines])
  console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`\nkept ${work}`);
