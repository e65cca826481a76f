#!/usr/bin/env node
// Throughput of `guarded-rollout validate-logging` (JSON parse + field checks + 10 leak patterns
// per line) against jq doing only the field-presence filter on the same corpus, for scale.
// Usage: pnpm build && node bench/logging-validation.mjs [lines]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/cli/bin/guarded-rollout.js');
if (!existsSync(join(root, 'packages/cli/dist/index.js'))) {
  console.error('build first: pnpm build');
  process.exit(2);
}
const lines = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-logging-'));
const corpus = join(dir, 'service.log');
const out = [];
for (let i = 0; i < lines; i++) {
  out.push(
    i % 50 === 0
      ? `plain text line ${i}`
      : JSON.stringify({
          timestamp: new Date(1_764_000_000_000 + i).toISOString(),
          level: i % 10 ? 'info' : 'warn',
          message: `hashed image ${i} in ${i % 900} ms`,
          request_id: `req-${i.toString(36)}`,
          path: '/hash',
          status: 200,
        }),
  );
}
writeFileSync(corpus, `${out.join('\n')}\n`);

function timed(name, command, args) {
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', command, ...args], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const [seconds, kb] = run.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { name, seconds, rssMb: kb / 1024, status: run.status };
}

const ours = timed('guarded-rollout validate-logging', process.execPath, [
  cli,
  'validate-logging',
  '--env',
  'bench',
  '--file',
  corpus,
  '--min-coverage',
  '0',
  '--log-dir',
  dir,
]);
const reference = timed('jq field filter (reference)', 'jq', [
  '-R',
  '-c',
  'fromjson? | select(.timestamp and .level and .message and .request_id) | .request_id',
  corpus,
]);
rmSync(dir, { recursive: true, force: true });

const rows = [ours, reference].map((r) => [
  r.name,
  String(lines),
  r.seconds.toFixed(2),
  Math.round(lines / Math.max(r.seconds, 0.01)).toLocaleString('en'),
  r.rssMb.toFixed(0),
  (r.seconds / reference.seconds).toFixed(2),
]);
const head = ['tool', 'lines', 'seconds', 'lines/s', 'peak RSS MB', 'time vs jq'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
for (const r of [head, widths.map((w) => '-'.repeat(w)), ...rows])
  console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(
  '(jq -R with fromjson? parses every line and skips the plain-text ones; it checks field presence only.)',
);
