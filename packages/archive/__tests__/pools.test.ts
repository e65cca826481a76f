// The worker-thread pools when a thread dies: every waiting caller gets an error naming what
// happened, and nothing waits forever (each test is bounded by jest's timeout).
import { describe, it, expect } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeflatePool, compressionThreads } from '../src/deflatepool.js';
import { WriterPool } from '../src/writerpool.js';
import type { PoolThreads } from '../src/workerstop.js';

// A thread that dies on its own: made to exit at a safe point without the pool closing.
// (`terminate()` on a busy thread can abort the whole process: see pool-stop.test.ts.)
const killThreads = async (pool: object): Promise<void> => {
  const { threads } = pool as { threads: PoolThreads };
  const exited = threads.workers.map((w) => new Promise((r) => w.once('exit', r)));
  threads.ask();
  await Promise.all(exited);
};

describe('a pool whose threads die', () => {
  it('deflate pool: queued files reject with "stopped unexpectedly", later ones too', async () => {
    const pool = new DeflatePool(6);
    const first = pool.add(Buffer.from('a'.repeat(4096)), true);
    await killThreads(pool);
    pool.send();
    await expect(first).rejects.toThrow(/compression thread stopped unexpectedly/);
    await expect(pool.add(Buffer.from('b'.repeat(4096)), true)).rejects.toThrow(/stopped unexpectedly/);
    await pool.close();
  });

  it('deflate pool: a batch in flight when its thread dies is rejected, not left waiting', async () => {
    const pool = new DeflatePool(6);
    const files = Array.from({ length: 300 }, (_, i) => pool.add(Buffer.alloc(4096, i), true));
    files.forEach((f) => f.catch(() => undefined));
    pool.send();
    await killThreads(pool);
    const settled = await Promise.allSettled(files);
    // Every file settles: compressed before the kill, or rejected with the reason.
    for (const s of settled)
      if (s.status === 'rejected') expect(String(s.reason)).toMatch(/stopped unexpectedly/);
    await pool.close();
  });

  it('writer pool: drain throws "writer thread stopped unexpectedly" instead of hanging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr-pools-'));
    const pool = new WriterPool(undefined);
    const raw = Buffer.from('hello');
    await pool.add({
      index: 0,
      path: join(dir, 'a'),
      raw,
      name: 'a',
      method: 0,
      size: 5,
      crc: 0,
      mode: 0o644,
    });
    await killThreads(pool);
    await expect(pool.drain()).rejects.toThrow(/writer thread stopped unexpectedly/);
    // and a later file is refused at once
    expect(() =>
      pool.add({ index: 1, path: join(dir, 'b'), raw, name: 'b', method: 0, size: 5, crc: 0, mode: 0o644 }),
    ).toThrow(/stopped unexpectedly/);
    await pool.close();
  });
});

describe('compression threads', () => {
  it('two on two cores or more, one on one core, and one from 32,768 pooled files on (memory at the steady state)', () => {
    expect(compressionThreads(20_000, 2)).toBe(2);
    expect(compressionThreads(20_000, 8)).toBe(2);
    expect(compressionThreads(20_000, 1)).toBe(1);
    expect(compressionThreads(32_767, 2)).toBe(2);
    expect(compressionThreads(32_768, 2)).toBe(1);
    expect(compressionThreads(100_000, 8)).toBe(1);
  });
});

describe('deflate pool slots', () => {
  it('are all reused when batches hold empty files (an empty file shares its offset with the next)', async () => {
    const pool = new DeflatePool(6, 1);
    try {
      // More batches than slots, each with empty files among the others: a slot that is never
      // given back shows as canAdd false with every result released.
      for (let round = 0; round < 12; round++) {
        const results: Array<Promise<Awaited<ReturnType<DeflatePool['add']>>>> = [];
        for (let i = 0; i < 64; i++) {
          expect(pool.canAdd(100)).toBe(true);
          results.push(pool.add(Buffer.alloc(i % 3 === 0 ? 0 : 100, i), true));
        }
        pool.send();
        for (const d of await Promise.all(results)) pool.release(d);
      }
      expect(pool.canAdd(2 * 1024 * 1024)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
