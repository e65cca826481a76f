#!/usr/bin/env node
// Backup / verify / restore benchmark: ours against the classic tools on the same data in the same
// run — `zip -r -q` + `sha256sum` (backup), `sha256sum -c` (verify), `unzip -q` (restore; also
// `unzip -q; sync`, since our restore makes the tree durable before the swap; and a rollback over
// a recorded live tree against `unzip -q -o` over the same tree; and, for verify, the floor of any
// Node program: start-up, read and SHA256, no checks; and that plus reading the central directory
// and the manifest, which any verify of the structure must do, still with no checks). Each
// task is timed twice for us: the library call in-process (bundled by this script into its scratch
// directory) and the real CLI end to end (`packages/cli/dist`, build it with `pnpm build`). Wall
// time and peak RSS of every child come from /usr/bin/time. The data is generated here, never
// committed. Usage:
//   node bench/backup.mjs [--size 1G] [--files 20000] [--only mixed|small] [--repeat N] [--keep]
// --repeat N runs every timed step N times, interleaved (ref, lib, cli, ref, lib, cli, ...), and
// reports the median time and the largest peak RSS: on a disk whose write-back lands on whichever
// step runs next, one run can be off by 5x either way.
//   BENCH_DIR=/somewhere/with/space  GR_BENCH_HUGE=1 (adds 1,000,001 tiny files)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/cli/bin/guarded-rollout.js');
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const UNITS = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const sizeArg = arg('--size', '1G');
const total = Math.round(parseFloat(sizeArg) * (UNITS[sizeArg.slice(-1).toUpperCase()] ?? 1));
const smallFiles = Number(arg('--files', '20000'));
const only = arg('--only', undefined);
const keep = args.includes('--keep');
const repeat = Math.max(1, Number(arg('--repeat', '1')));

if (!existsSync(join(root, 'packages/cli/dist/index.js'))) {
  console.error('build the CLI first: pnpm build (or node scripts/build.mjs packages/cli)');
  process.exit(2);
}
const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'gr-bench-'));
const lib = join(work, 'lib');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
const built = spawnSync(
  process.execPath,
  [ncc, 'build', join(root, 'bench/backup-inprocess.ts'), '-o', lib, '-q', '--target', 'es2022'],
  { cwd: root, encoding: 'utf8' },
);
if (built.status !== 0) throw new Error(`bundling the in-process runner failed:\n${built.stderr}`);

// What no Node program can beat end to end: Node's start-up, then the zip read and hashed on the
// main thread (4 MiB blocks, as the hash worker does) and compared with the .sha256, with none of
// verify's checks. Shown as its own row against sha256sum -c: the CLI's verify rows are read
// against it.
const floor = join(work, 'node-floor.cjs');
writeFileSync(
  floor,
  `const fs = require('node:fs');
const { createHash } = require('node:crypto');
const zip = process.argv[2];
const fd = fs.openSync(zip, 'r');
const hash = createHash('sha256');
const b = Buffer.allocUnsafe(4 * 1024 * 1024);
for (let n = fs.readSync(fd, b, 0, b.length, null); n > 0; n = fs.readSync(fd, b, 0, b.length, null))
  hash.update(b.subarray(0, n));
if (hash.digest('hex') !== fs.readFileSync(zip + '.sha256', 'utf8').slice(0, 64)) process.exit(1);
`,
);

// The same floor plus the least any verify of the structure must do: read the central directory
// (every name decoded), inflate the manifest and parse it, with none of the checks on either.
// The CLI's verify --quick rows are read against it too: what is left above it is the checks.
const floorStructure = join(work, 'node-floor-structure.cjs');
writeFileSync(
  floorStructure,
  `const fs = require('node:fs');
const { inflateRawSync } = require('node:zlib');
const zip = process.argv[2];
const fd = fs.openSync(zip, 'r');
const size = fs.fstatSync(fd).size;
const tail = Buffer.alloc(Math.min(size, 65557));
fs.readSync(fd, tail, 0, tail.length, size - tail.length);
const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
let count = tail.readUInt16LE(eocd + 10), cdSize = tail.readUInt32LE(eocd + 12), cdOff = tail.readUInt32LE(eocd + 16);
if (count === 0xffff || cdOff === 0xffffffff) {
  const z = Buffer.alloc(56);
  fs.readSync(fd, z, 0, 56, Number(tail.readBigUInt64LE(eocd - 20 + 8)));
  count = Number(z.readBigUInt64LE(32)); cdSize = Number(z.readBigUInt64LE(40)); cdOff = Number(z.readBigUInt64LE(48));
}
const cd = Buffer.alloc(cdSize);
fs.readSync(fd, cd, 0, cdSize, cdOff);
const names = new Map();
let manifestAt = -1, manifestSize = 0;
for (let i = 0, p = 0; i < count; i++) {
  const n = cd.readUInt16LE(p + 28), x = cd.readUInt16LE(p + 30), c = cd.readUInt16LE(p + 32);
  const name = cd.toString('utf8', p + 46, p + 46 + n);
  names.set(name, i);
  if (name === '.guarded-rollout-backup.json') { manifestAt = cd.readUInt32LE(p + 42); manifestSize = cd.readUInt32LE(p + 20); }
  p += 46 + n + x + c;
}
const local = Buffer.alloc(30);
fs.readSync(fd, local, 0, 30, manifestAt);
const packed = Buffer.alloc(manifestSize);
fs.readSync(fd, packed, 0, manifestSize, manifestAt + 30 + local.readUInt16LE(26) + local.readUInt16LE(28));
const manifest = JSON.parse(inflateRawSync(packed).toString('utf8'));
if (manifest.entries.length + 1 > names.size) process.exit(1);
require(${JSON.stringify(floor)});
`,
);

const words =
  'hash image dhash extract latency queue review confidence request ok error timeout retry worker 200 404 500 GET POST ms bytes'.split(
    ' ',
  );
let seed = 42;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
function logText(size) {
  const lines = [];
  let n = 0;
  while (n < size) {
    const line = `${new Date(1_700_000_000_000 + Math.floor(rnd() * 1e9)).toISOString()} level=${rnd() < 0.9 ? 'info' : 'warn'} id=${Math.floor(rnd() * 1e9).toString(16)} ${Array.from({ length: 8 }, () => words[Math.floor(rnd() * words.length)]).join(' ')} value=${(rnd() * 1000).toFixed(3)}\n`;
    lines.push(line);
    n += line.length;
  }
  return lines.join('').slice(0, size);
}

/** Half random bytes in 8 MiB files (incompressible), half log-like text in 1-4 MiB files. */
function makeMixed(tree) {
  const fileSize = 8 * 1024 * 1024;
  const half = Math.floor(total / 2);
  mkdirSync(join(tree, 'random'), { recursive: true });
  for (let i = 0, left = half; left > 0; i++, left -= fileSize)
    writeFileSync(join(tree, 'random', `blob-${i}.bin`), randomBytes(Math.min(fileSize, left)));
  for (let i = 0, left = total - half; left > 0; i++) {
    const dir = join(tree, 'text', `d${i % 16}`);
    mkdirSync(dir, { recursive: true });
    const size = Math.min(left, 1024 * 1024 + Math.floor(rnd() * 3 * 1024 * 1024));
    writeFileSync(join(dir, `log-${i}.txt`), logText(size));
    left -= size;
  }
}

/** N small files (0.5-8 KiB; 80 % text, 20 % random), 200 per directory. */
function makeSmall(tree, n) {
  const text = logText(64 * 1024);
  for (let i = 0; i < n; i++) {
    const dir = join(tree, `d${Math.floor(i / 200)}`);
    if (i % 200 === 0) mkdirSync(dir, { recursive: true });
    const size = 512 + Math.floor(rnd() * 7680);
    const at = Math.floor(rnd() * (text.length - size));
    writeFileSync(
      join(dir, `f${i}.${i % 5 === 4 ? 'bin' : 'txt'}`),
      i % 5 === 4 ? randomBytes(size) : text.slice(at, at + size),
    );
  }
}

function timedOnce(label, command, cwd) {
  // Dirty pages of the previous step are flushed first: otherwise their write-back lands on
  // whichever step runs next (restores measured 1.6 s or 9.7 s for the same unzip).
  spawnSync('sync');
  const stats = join(work, 'time.txt');
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', stats, 'bash', '-c', command], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`${label} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  const [wall, rssKb] = readFileSync(stats, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
  const inner = /\{"ms":([\d.]+)\}/.exec(run.stdout);
  return { label, wall: inner ? Number(inner[1]) / 1000 : wall, rssMiB: rssKb / 1024 };
}

/** Collects each step's runs; `summary` gives the median time and the largest peak RSS. */
const runs = new Map();
function timed(label, command, cwd) {
  const r = timedOnce(label, command, cwd);
  runs.set(label, [...(runs.get(label) ?? []), r]);
  return r;
}
function summary(label) {
  const all = runs.get(label);
  const walls = all.map((r) => r.wall).sort((a, b) => a - b);
  return {
    label,
    wall: walls[Math.floor((walls.length - 1) / 2)],
    rssMiB: Math.max(...all.map((r) => r.rssMiB)),
  };
}

const fmt = (n, d = 2) => n.toFixed(d);
const rows = [];
function bench(name, make) {
  const dir = join(work, name);
  mkdirSync(dir);
  const t0 = Date.now();
  make(join(dir, 'tree'));
  spawnSync('sync');
  console.log(`${name}: generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const node = process.execPath;
  const inproc = join(lib, 'index.js');
  runs.clear();
  const suffix = (round) => (round ? `-${round}` : '');
  const outputs = (r) => [
    `out-lib${r}`,
    `out-cli${r}`,
    `restored-ref${r}`,
    `restored-ref-sync${r}`,
    `restored-lib${r}`,
    `restored-cli${r}`,
  ];
  // Nothing a step made is kept longer than the steps that read it: on a tmpfs every kept tree is
  // memory, and a 1 GiB round left ~5 GiB, so later steps (ours) ran under more memory pressure
  // than earlier ones (unzip), and three rounds filled a 12 GiB tmpfs.
  const drop = (...names) => {
    for (const d of names) rmSync(join(dir, d), { recursive: true, force: true });
  };
  for (let round = 0; round < repeat; round++) {
    const r = suffix(round);
    drop(...outputs(r), ...(round ? outputs(suffix(round - 1)) : []));
    rmSync(join(dir, 'ref.zip'), { force: true });
    timed('zip -r -q + sha256sum', 'zip -r -q ref.zip tree && sha256sum ref.zip > ref.zip.sha256', dir);
    timed('lib backup', `${node} ${inproc} backup tree out-lib${r}`, dir);
    timed('cli backup', `${node} ${cli} backup --env bench --path tree --out out-cli${r}`, dir);
    const zipIn = (out) =>
      join(
        dir,
        out,
        readdirSync(join(dir, out)).find((f) => f.endsWith('.zip')),
      );
    const zip = zipIn(`out-cli${r}`);
    const libZip = zipIn(`out-lib${r}`);
    timed('sha256sum -c', `sha256sum -c --quiet ${zip}.sha256`, dir);
    timed('lib verify', `${node} ${inproc} verify ${libZip}`, dir);
    timed('cli verify-backup --quick', `${node} ${cli} verify-backup --quick ${zip}`, dir);
    timed('node floor', `${node} ${floor} ${zip}`, dir);
    timed('node floor + structure', `${node} ${floorStructure} ${zip}`, dir);
    timed('unzip -q', `unzip -q ${zip} -d restored-ref${r}`, dir);
    // Our restore makes the staged tree durable before it swaps it in (the swap journal's fsync
    // flushes it on ext4); unzip leaves it in the page cache. This row shows what durability costs.
    timed('unzip -q; sync', `unzip -q ${zip} -d restored-ref-sync${r} && sync`, dir);
    drop(`restored-ref-sync${r}`);
    timed('lib restore', `${node} ${inproc} restore ${libZip} restored-lib${r}`, dir);
    drop(`restored-lib${r}`, `out-lib${r}`);
    timed(
      'cli rollback',
      `${node} ${cli} rollback --env bench --backup ${zip} --target restored-cli${r} --log-dir .`,
      dir,
    );
    // The rollback an operator runs at 3 a.m.: over a live tree that a deploy (here the rollback
    // above) recorded, which is compared file by file first (every file hashed) and whose
    // replaced version is kept; against unzip overwriting a tree in place.
    timed('unzip -q -o (over the tree)', `unzip -q -o ${zip} -d restored-ref${r}`, dir);
    timed(
      'cli rollback over live',
      `${node} ${cli} rollback --env bench --backup ${zip} --target restored-cli${r} --log-dir .`,
      dir,
    );
  }
  const [
    refBackup,
    libBackup,
    cliBackup,
    refVerify,
    libVerify,
    cliVerify,
    refRestore,
    refRestoreSync,
    libRestore,
    cliRestore,
    refOver,
    cliOver,
    nodeFloor,
    nodeFloorStructure,
  ] = [
    'zip -r -q + sha256sum',
    'lib backup',
    'cli backup',
    'sha256sum -c',
    'lib verify',
    'cli verify-backup --quick',
    'unzip -q',
    'unzip -q; sync',
    'lib restore',
    'cli rollback',
    'unzip -q -o (over the tree)',
    'cli rollback over live',
    'node floor',
    'node floor + structure',
  ].map(summary);
  const diff = spawnSync('diff', ['-r', 'tree', `restored-cli${suffix(repeat - 1)}/tree`], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (diff.status !== 0) throw new Error(`restored tree differs:\n${diff.stdout.slice(0, 2000)}`);
  for (const [task, ref, l, c] of [
    ['backup', refBackup, libBackup, cliBackup],
    ['verify --quick', refVerify, libVerify, cliVerify],
    ['restore', refRestore, libRestore, cliRestore],
    ['restore (durable ref)', refRestoreSync, libRestore, cliRestore],
    ['rollback over live tree', refOver, undefined, cliOver],
    ['verify floor (node, no checks)', refVerify, undefined, nodeFloor],
    ['verify floor + reading the structure', refVerify, undefined, nodeFloorStructure],
  ])
    rows.push([
      name,
      task,
      fmt(ref.wall),
      l ? fmt(l.wall) : '-',
      l ? fmt(l.wall / Math.max(ref.wall, 0.01)) + 'x' : '-',
      fmt(c.wall),
      fmt(c.wall / Math.max(ref.wall, 0.01)) + 'x',
      l ? fmt(l.rssMiB, 0) : '-',
      fmt(c.rssMiB, 0),
      fmt(ref.rssMiB, 0),
      ref.label,
    ]);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

if (!only || only === 'mixed') bench(`mixed-${sizeArg}`, makeMixed);
if (!only || only === 'small') bench(`files-${smallFiles}`, (t) => makeSmall(t, smallFiles));
if (process.env.GR_BENCH_HUGE === '1') bench('files-1000001', (t) => makeSmall(t, 1_000_001));

console.log(
  `\nNode ${process.version}; ${repeat > 1 ? `median of ${repeat} interleaved runs; ` : ''}load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
);
const header = [
  'data',
  'task',
  'ref s',
  'lib s',
  'lib/ref',
  'cli s',
  'cli/ref',
  'lib RSS MiB',
  'cli RSS MiB',
  'ref RSS MiB',
  'reference',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i].length)));
for (const l of [header, widths.map((w) => '-'.repeat(w)), ...rows])
  console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`\nkept ${work}`);
