// The per-attempt deadline must fire after a garbage collection. `AbortSignal.any` does not on
// Node 20.20 (the composite signal is collected and its timeout never fires), which is why
// deadline.ts builds its own. This test transpiles the real deadline.ts, then runs it in a child
// `node --expose-gc` that forces collections while a fetch hangs on a receiver that never answers.
// CI runs the suite on Node 20 and on Node 24, so both are covered; NODE24_BIN (or NODE_EXTRA_BIN)
// adds a second binary to the same run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const source = fileURLToPath(new URL('../src/deadline.ts', import.meta.url));

const CHILD = `
import { createServer } from 'node:net';
import { withDeadline } from './deadline.mjs';
const server = createServer((s) => s.on('data', () => {})); // accepts, reads, never answers
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = 'http://127.0.0.1:' + server.address().port + '/hook';
const gcLoop = setInterval(() => globalThis.gc(), 5);
const parent = new AbortController(); // a long-lived caller signal, never aborted

async function ours() {
  const t0 = Date.now();
  const r = await withDeadline(300, parent.signal, (signal) =>
    fetch(url, { method: 'POST', body: 'x', signal }).then((res) => res.text()));
  return { reason: r.ok ? 'ok' : r.reason, ms: Date.now() - t0 };
}

async function anySignal() {
  const t0 = Date.now();
  let cap;
  const capped = new Promise((r) => (cap = setTimeout(() => r('never fired (3 s cap)'), 3000)));
  const req = (async () => {
    const signal = AbortSignal.any([AbortSignal.timeout(300), parent.signal]);
    try { await fetch(url, { method: 'POST', body: 'x', signal }); return 'answered'; }
    catch (e) { return e.name; }
  })();
  const out = await Promise.race([req, capped]);
  clearTimeout(cap);
  return { reason: out, ms: Date.now() - t0 };
}

const results = { node: process.version, ours: [], any: null };
for (let i = 0; i < 3; i++) results.ours.push(await ours());
results.any = await anySignal();
clearInterval(gcLoop);
console.log(JSON.stringify(results));
process.exit(0);
`;

function binaries(): string[] {
  const extra = [process.env.NODE24_BIN, process.env.NODE_EXTRA_BIN].filter(
    (b): b is string => typeof b === 'string' && b !== '' && existsSync(b),
  );
  return [process.execPath, ...extra.filter((b) => b !== process.execPath)];
}

describe('withDeadline under forced garbage collection (node --expose-gc)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-gc-'));
  writeFileSync(
    join(dir, 'deadline.mjs'),
    ts.transpileModule(readFileSync(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    }).outputText,
  );
  writeFileSync(join(dir, 'child.mjs'), CHILD);

  it.each(binaries())('fires on time after collections (%s)', (node) => {
    const run = spawnSync(node, ['--expose-gc', join(dir, 'child.mjs')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as {
      node: string;
      ours: Array<{ reason: string; ms: number }>;
      any: { reason: string; ms: number };
    };
    // Informational: on Node 20.20 AbortSignal.any typically "never fired"; newer Nodes fix it.
    process.stdout.write(
      `${result.node}: ours ${JSON.stringify(result.ours)}; AbortSignal.any ${JSON.stringify(result.any)}\n`,
    );
    for (const attempt of result.ours) {
      expect(attempt.reason).toBe('timeout');
      expect(attempt.ms).toBeGreaterThanOrEqual(290);
      expect(attempt.ms).toBeLessThan(1300);
    }
  });
});
