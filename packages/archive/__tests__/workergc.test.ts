// What the pools' threads allocate per file is freed by their per-batch minor collection, on every
// Node this runs on: on Node 24 zlib's sync calls kept each output buffer until a full collection
// (~30 MiB of ArrayBuffers after 20,000 calls, measured), unless released (releasingZlib).
import { describe, expect, it } from '@jest/globals';
import { Worker } from 'node:worker_threads';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { MINOR_GC_SOURCE, RELEASING_ZLIB_SOURCE, releasingZlib } from '../src/workergc.js';

const text = Buffer.from('hash image dhash extract latency queue review confidence request ok '.repeat(90));

describe('releasingZlib', () => {
  it('returns what the plain call returns, and still stops an inflate at its limit', () => {
    const packed = releasingZlib(deflateRawSync, text, { level: 6 });
    expect(packed.equals(deflateRawSync(text, { level: 6 }))).toBe(true);
    expect(releasingZlib(inflateRawSync, packed, { maxOutputLength: text.length }).equals(text)).toBe(true);
    expect(() => releasingZlib(inflateRawSync, packed, { maxOutputLength: text.length - 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_BUFFER_TOO_LARGE' }) as unknown as Error,
    );
  });

  it("in a pool thread, 20,000 deflates and inflates leave at most a few MiB of buffers between the batches' collections", async () => {
    const source = `(async () => {
      const { parentPort } = await import('node:worker_threads');
      const { deflateRawSync, inflateRawSync } = await import('node:zlib');
      ${MINOR_GC_SOURCE}
      ${RELEASING_ZLIB_SOURCE}
      const gc = await minorGc();
      const input = Buffer.from(${JSON.stringify(text.toString())});
      let peak = 0;
      for (let i = 0; i < 20000; i++) {
        input[0] = i & 127;
        const packed = releasingZlib(deflateRawSync, input, { level: 6 });
        const back = releasingZlib(inflateRawSync, Buffer.from(packed), { maxOutputLength: input.length });
        if (!back.equals(input)) throw new Error('round trip differs at ' + i);
        if (i % 64 === 63) gc();
        if (i % 256 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }
      parentPort.postMessage(peak);
    })()`;
    const w = new Worker(source, { eval: true });
    const peak = await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(peak).toBeLessThan(8 * 1024 * 1024);
  });
});
