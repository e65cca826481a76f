// A young-generation collection after each batch in the pools' worker threads. Every file there
// allocates its inflated or deflated bytes outside the JavaScript heap, and with a small heap the
// worker rarely collects on its own, so freed buffers piled up: about 12 MiB per worker on a
// 20,000-file restore. A minor collection per batch (64-128 files) frees them for well under a
// millisecond. \`gc\` is reached through V8's own flag (a worker cannot take --expose-gc); when
// that is unavailable the worker simply does not collect early.
import { deflateRaw, type ZlibOptions } from 'node:zlib';

export const MINOR_GC_SOURCE = `
  const minorGc = async () => {
    try {
      (await import('node:v8')).setFlagsFromString('--expose-gc');
      const gc = (await import('node:vm')).runInNewContext('gc');
      return () => gc({ type: 'minor' });
    } catch {
      return () => undefined;
    }
  };`;

// zlib's *Sync calls on Node 24 leave each call's engine, with its 16 KiB output buffer, reachable
// from the native handle until a full collection, so the per-batch minor collection above freed
// none of those buffers there: a pool thread's ArrayBuffers climbed to ~40 MiB between V8's own
// full collections, and a 100,000-file backup peaked at ~220 MiB RSS against ~140 MiB on Node 20
// (measured 2026-12-06). Asked for `info`, the call hands back its engine, whose output buffer is
// dropped here; the result stays valid (a view of that buffer, the caller's alone now). Only on
// Node 24 and later: Node 20 and 22 free those buffers at a minor collection, and there the
// release raised a 100,000-file restore's peak by ~11 MiB (its writer threads' heaps grew).
// `_outBuffer` is zlib's internal name: if it changes, the call still works, only without the
// early release. Written twice, here and as worker source, because the pools' threads run inline
// code.
const RELEASE = Number(process.versions.node.split('.')[0]) >= 24;

export function releasingZlib(
  call: (input: Buffer, options: ZlibOptions) => unknown,
  input: Buffer,
  options: ZlibOptions,
): Buffer {
  if (!RELEASE) return call(input, options) as Buffer;
  const result = call(input, { ...options, info: true }) as { buffer: Buffer; engine: object };
  releaseZlibEngine(result.engine);
  return result.buffer;
}

/** Drops what a finished engine still holds: its output buffer and, for an async call, the
 *  output pieces it gathered (a 1 MiB piece's, on Node 24, kept until a full collection: a 1 GiB
 *  backup peaked at 186 MiB RSS there, 99 MiB on Node 20). */
function releaseZlibEngine(engine: object): void {
  const e = engine as { _outBuffer?: unknown; buffers?: unknown };
  e._outBuffer = undefined;
  e.buffers = null;
}

/** Async `deflateRaw`, releasing its engine when done (see releaseZlibEngine). */
export function deflateRawReleasing(input: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolvePromise, reject) =>
    deflateRaw(input, { ...options, info: RELEASE }, (error, result) => {
      if (error) return reject(error);
      if (!RELEASE) return resolvePromise(result);
      const { buffer, engine } = result as unknown as { buffer: Buffer; engine: object };
      releaseZlibEngine(engine);
      resolvePromise(buffer);
    }),
  );
}

/** `releasingZlib` for the pools' inline worker code (their threads run this same Node). */
export const RELEASING_ZLIB_SOURCE = RELEASE
  ? `
  const releasingZlib = (call, input, options) => {
    const result = call(input, { ...options, info: true });
    result.engine._outBuffer = undefined;
    return result.buffer;
  };`
  : `
  const releasingZlib = (call, input, options) => call(input, options);`;
