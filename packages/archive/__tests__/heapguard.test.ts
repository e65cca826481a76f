// The heap guard's collection really runs on this Node (it is reached through V8's flag, and a
// Node where that stopped working would silently lose the bound on peak memory), and only for
// large jobs (small ones return at once).
import { describe, expect, it } from '@jest/globals';
import { getHeapStatistics } from 'node:v8';
import { HeapGuard } from '../src/heapguard.js';

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
