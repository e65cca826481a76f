// The heap guard's collection really runs on this Node (it is reached through V8's flag, and a
// Node where that stopped working would silently lose the bound on peak memory), and only for
// large jobs (small ones return at once); holding the young generation really holds it.
import { describe, expect, it } from '@jest/globals';
import { getHeapStatistics } from 'node:v8';
import { spawnSync } from 'node:child_process';
import { HeapGuard } from '../src/heapguard.js';
import { transpiledModules } from './fixtures.js';

const used = () => getHeapStatistics().used_heap_size;

function garbage(): number {
  // ~30 MB of small objects, kept long enough to be promoted, then dropped.
  let keep: Array<{ i: number; s: string }> | undefined = [];
  for (let i = 0; i < 300_000; i++) keep.push({ i, s: `entry-${i}-${'x'.repeat(40)}` });
  const before = used();
  keep = undefined;
  return before;
}

describe('HeapGuard', () => {
  it('collects the garbage of a large job between phases', () => {
    const guard = new HeapGuard();
    guard.phase(1_000); // a small job: returns at once (nothing to assert on V8's own schedule)
    const before = garbage();
    guard.phase(100_000);
    expect(used()).toBeLessThan(before - 20 * 1024 * 1024);
  });
});

describe('holdYoungGeneration', () => {
  // In a child process: the flag is process-wide and would change the Jest process's heap.
  const survivors = (hold: boolean): number => {
    const dir = transpiledModules(['heapguard']);
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { getHeapSpaceStatistics } from 'node:v8';
         import { holdYoungGeneration } from './heapguard.js';
         if (${hold}) holdYoungGeneration();
         // A table read from an archive: 300,000 small objects that all survive.
         const table = [];
         for (let i = 0; i < 300_000; i++) table.push({ i, name: 'dir/file-' + i });
         const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
         console.log(young.space_size, table.length);`,
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    return Number(r.stdout.split(' ')[0]);
  };

  it('keeps the young generation from growing while a table of survivors is read', () => {
    const grown = survivors(false);
    const held = survivors(true);
    // V8's default doubles it to its maximum; held, it stays at its start size (a few MiB).
    expect(grown).toBeGreaterThan(16 * 1024 * 1024);
    expect(held).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
