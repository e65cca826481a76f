// Stopping a busy pool must never abort the process. Node aborts with
// `Assertion failed: init_done_ && "close before init"` when a worker thread is stopped while a
// zlib call builds its native handle; a pool closed mid-batch (a backup that failed) or a process
// exiting with a busy pool hit it about once in a hundred stops. The pools are run here in child
// processes (an abort would otherwise take Jest down with it), built from their TypeScript
// sources with the compiler's transpiler (fixtures.ts).
import { describe, it, expect, beforeAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runModule, transpiledModules } from './fixtures.js';

let dir: string;

beforeAll(() => {
  dir = transpiledModules(['deflatepool', 'writerpool', 'workergc', 'workerstop', 'heapguard']);
  // Keeps both threads inside zlib calls on tiny files (a new native handle per file), so a stop
  // lands in the dangerous window as often as it can.
  writeFileSync(
    join(dir, 'busy.js'),
    `import { DeflatePool } from './deflatepool.js';
import { WriterPool } from './writerpool.js';
import { deflateRawSync, crc32 } from 'node:zlib';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
const file = Buffer.from('guarded rollout '.repeat(8));
export function busyDeflate() {
  const pool = new DeflatePool(6);
  const queued = [];
  const pump = () => {
    for (let i = 0; i < 64 && pool.canAdd(file.length); i++) {
      const p = pool.add(file, true);
      p.then((d) => pool.release(d), () => undefined);
      queued.push(p);
    }
    pool.send();
  };
  const timer = setInterval(pump, 0);
  pump();
  return { pool, stop: () => clearInterval(timer) };
}
export function busyWriter(root) {
  const dir = mkdtempSync(join(root, 'w-'));
  const pool = new WriterPool(undefined);
  const raw = deflateRawSync(file);
  let n = 0;
  const pump = () => {
    for (let i = 0; i < 64; i++) {
      const p = pool.add({ index: n, path: join(dir, String(n++)), raw, name: 'f', method: 8, size: file.length, crc: crc32(file) >>> 0, mode: 0o644 });
      if (p) { p.catch(() => undefined); break; }
    }
  };
  const timer = setInterval(pump, 0);
  pump();
  return { pool, stop: () => clearInterval(timer) };
}
`,
  );
});

const node = (script: string, args: string[] = []) => runModule(dir, script, args);

const runAsync = (script: string) =>
  new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });

describe('stopping a busy pool', () => {
  it('close() mid-batch, 100 times per pool: the process never aborts', () => {
    const r = node(
      `
      import { busyDeflate, busyWriter } from './busy.js';
      const root = process.argv[1];
      for (let i = 0; i < 100; i++) {
        for (const make of [busyDeflate, () => busyWriter(root)]) {
          const { pool, stop } = make();
          // past the threads' start-up (about 30 ms), into their batches
          await new Promise((r) => setTimeout(r, 40 + Math.random() * 4));
          stop();
          await pool.close();
        }
      }
      console.log('closed 200 busy pools');
    `,
      [mkdtempSync(join(dir, 'out-'))],
    );
    expect(r.stderr).not.toMatch(/Assertion failed|FATAL ERROR/);
    expect(r.stdout).toContain('closed 200 busy pools');
    expect(r.status).toBe(0);
  }, 120_000);

  it('process exit with busy pools, 20 times: the exit code is the one asked for', async () => {
    // A smoke run with real zlib work (an abort here is luck-dependent, about 1 % per exit);
    // the deterministic check of the same path is the "unsafe section" test below.
    const script = `
      import { busyDeflate, busyWriter } from './busy.js';
      import { mkdtempSync } from 'node:fs';
      import { join } from 'node:path';
      busyDeflate();
      busyWriter(mkdtempSync(join(process.cwd(), 'exit-')));
      setTimeout(() => process.exit(3), 45 + Math.random() * 10);
    `;
    const results = [];
    for (let round = 0; round < 10; round++)
      results.push(...(await Promise.all([runAsync(script), runAsync(script)])));
    for (const r of results) {
      expect(r.stderr).not.toMatch(/Assertion failed|FATAL ERROR/);
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 3, signal: null });
    }
  }, 120_000);
});

// The thread stopping itself, deterministically: a thread that logs `start;` and `end;` around a 5 ms
// section (standing in for a zlib call) and checks for a stop between sections. Stopped while
// inside the section, by close or by process exit, its log must still end with `end`.
describe('PoolThreads', () => {
  const harness = (then: string) => `
    import { POOL_THREAD_SOURCE, PoolThreads } from './workerstop.js';
    const log = process.argv[1];
    const state = new SharedArrayBuffer(4);
    const source = \`(async () => {
      const { workerData } = await import('node:worker_threads');
      const fs = await import('node:fs');
      \${POOL_THREAD_SOURCE}
      const state = new Int32Array(workerData.state);
      const fd = fs.openSync(workerData.log, 'a');
      for (;;) {
        stopIfAsked();
        Atomics.store(state, 0, 1);
        fs.writeSync(fd, 'start;');
        for (const t = Date.now(); Date.now() - t < 5; );
        fs.writeSync(fd, 'end;');
        Atomics.store(state, 0, 0);
      }
    })();\`;
    const threads = new PoolThreads(source, 1, {
      what: 'test',
      workerData: { state, log },
      onMessage: () => undefined,
      onDeath: (error) => console.error(error.message),
    });
    const inSection = new Int32Array(state);
    // wait (bounded) until the thread is inside a section
    for (const t = Date.now(); Atomics.load(inSection, 0) !== 1; ) {
      if (Date.now() - t > 10_000) { console.error('thread never entered its section'); process.exit(9); }
      await new Promise((r) => setImmediate(r));
    }
    ${then}
  `;
  const lastLine = (log: string) => readFileSync(log, 'utf8').split(';').at(-2);

  it('stopAll() waits for the thread to leave its section', () => {
    const log = join(dir, 'stopall.log');
    const r = node(harness("await threads.stopAll(); console.log('stopped');"), [log]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('stopped');
    expect(r.status).toBe(0);
    expect(lastLine(log)).toBe('end');
  });

  it('process exit waits for the thread to leave its section', () => {
    const log = join(dir, 'exit.log');
    const r = node(harness('process.exit(3);'), [log]);
    expect(r.status).toBe(3);
    expect(lastLine(log)).toBe('end');
  });

  it('a thread that never answers is terminated after the grace period', () => {
    const r = node(`
      import { PoolThreads } from './workerstop.js';
      const threads = new PoolThreads('for (;;);', 1, {
        what: 'test',
        onMessage: () => undefined,
        onDeath: (error) => console.error(error.message),
      });
      await new Promise((r) => setTimeout(r, 100));
      const t = Date.now();
      await threads.stopAll(300);
      console.log('stopped after ' + (Date.now() - t >= 300 ? 'the grace period' : 'too little'));
    `);
    expect(r.stdout).toContain('stopped after the grace period');
    expect(r.status).toBe(0);
  });
});
